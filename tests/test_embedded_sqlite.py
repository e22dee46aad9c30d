"""The embedded default works as `make run` leaves it: SQLite, in-process Celery tasks.

The rest of the suite runs on PostgreSQL only, so nothing else would notice a page or an API
endpoint that fails on SQLite (psycopg-only SQL, PostgreSQL-only lookups). Here, in a temporary
directory and in subprocesses with none of pytest's settings or environment:

1. `manage.py migrate --no-input` and `manage.py demo_setup`, as scripts/run.sh runs them (the
   latter through smoke.py, only so that the demo passwords are written to the temporary directory
   rather than over the checkout's own `.demo-logins`);
2. `manage.py run_checks`: the checks, in-process, on the demo data;
3. every main page for each demo persona (practitioner, manager past the second factor, partner)
   and the partner API with the partner's token, with django.test.Client
   (tests/sqlite_smoke/smoke.py); each must answer as designed, and the pages and API lists that
   show records must have written one audit VIEW row per record shown.

No database fixture: this test never touches the PostgreSQL test database.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent
# The virtualenv's interpreter, as `make run` uses (.venv/bin/python).
PYTHON = str(BASE_DIR / ".venv" / "bin" / "python") if (BASE_DIR / ".venv").is_dir() else sys.executable
SMOKE = BASE_DIR / "tests" / "sqlite_smoke" / "smoke.py"
TIMEOUT = 120  # seconds per step; the whole test takes well under a minute
# Settings read from the environment (safeguarding/settings): none of the pytest process's may
# leak into the subprocesses, above all its DATABASE_URL and DJANGO_SETTINGS_MODULE.
SETTINGS_PREFIXES = ("DATABASE_", "REDIS_", "CELERY_", "DJANGO_", "API_", "AXES_", "SESSION_")
SETTINGS_NAMES = {
    "SECRET_KEY",
    "DEBUG",
    "ALLOWED_HOSTS",
    "CSRF_TRUSTED_ORIGINS",
    "TWO_FACTOR_REQUIRED_ROLES",
    "LOG_LEVEL",
}


def _embedded_env(tmp_path: Path) -> dict[str, str]:
    env = {
        name: value
        for name, value in os.environ.items()
        if name not in SETTINGS_NAMES and not name.startswith(SETTINGS_PREFIXES)
    }
    env["DATABASE_URL"] = f"sqlite:///{tmp_path / 'demo.db'}"
    env["SMOKE_DEMO_LOGINS"] = str(tmp_path / ".demo-logins")
    return env


def _run(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess:
    result = subprocess.run(  # noqa: S603 - our own interpreter and scripts
        [PYTHON, *args], cwd=BASE_DIR, env=env, capture_output=True, text=True, timeout=TIMEOUT, check=False
    )
    assert result.returncode == 0, (
        f"`{' '.join(args)}` exited {result.returncode}\n--- stdout\n{result.stdout[-3000:]}\n"
        f"--- stderr\n{result.stderr[-5000:]}"
    )
    return result


def _failures(results: dict[str, dict]) -> list[str]:
    failures = []
    for key, entry in results.items():
        if entry["status"] in entry["expected"] and not entry.get("error") and not entry.get("audit"):
            continue
        lines = [f"{key}: {entry['status']} (expected {' or '.join(map(str, entry['expected']))})"]
        if entry.get("audit"):
            lines.append(f"    audit: {entry['audit']}")
        if entry.get("error"):
            lines.extend("    " + line for line in entry["error"].splitlines())
        failures.append("\n".join(lines))
    return failures


def test_embedded_default_serves_every_page_and_the_api(tmp_path):
    env = _embedded_env(tmp_path)

    _run(["manage.py", "migrate", "--no-input"], env)
    setup = _run([str(SMOKE), "demo_setup"], env)
    assert "partner API token:" in setup.stdout, setup.stdout[-2000:]
    assert (tmp_path / "demo.db").stat().st_size > 0
    assert (tmp_path / ".demo-logins").exists()

    checks = _run(["manage.py", "run_checks"], env)
    assert "Checked " in checks.stdout and "Prompts raised:" in checks.stdout, checks.stdout[-2000:]

    pages = _run([str(SMOKE), "pages"], env)
    summary = json.loads(pages.stdout.strip().splitlines()[-1])
    assert summary["vendor"] == "sqlite"
    assert Path(summary["database"]) == tmp_path / "demo.db"
    assert summary["celery_eager"] is True
    results = summary["results"]
    assert len(results) > 60, sorted(results)
    failures = _failures(results)
    assert not failures, f"{len(failures)} of {len(results)} requests failed on SQLite:\n\n" + "\n\n".join(failures)
