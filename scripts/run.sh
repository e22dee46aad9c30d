#!/usr/bin/env bash
# `make run`: migrate, seed the demo once, print logins, then serve with Celery.
# Embedded default (no DATABASE_URL / REDIS_URL): SQLite and in-process (eager) Celery tasks.
# With REDIS_URL: a Celery worker with beat runs beside the web server and stops with it.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=.venv/bin/python
HOST=${HOST:-127.0.0.1}
PORT=${PORT:-8000}

$PY manage.py migrate --no-input
$PY manage.py demo_setup

pids=()
cleanup() { for pid in "${pids[@]:-}"; do [ -n "$pid" ] && kill "$pid" 2>/dev/null || true; done; }
trap cleanup EXIT INT TERM

if [ -n "${REDIS_URL:-}" ]; then
  echo "Starting a Celery worker with beat on $REDIS_URL (logs: celery.log)"
  .venv/bin/celery -A safeguarding worker --beat --loglevel INFO --concurrency 2 >celery.log 2>&1 &
  pids+=($!)
else
  echo "Celery: no REDIS_URL, so tasks run in-process."
fi

echo "Serving on http://$HOST:$PORT/  (Ctrl-C to stop)"
$PY manage.py runserver "$HOST:$PORT"
