"""Say clearly, before pytest starts, when the test database cannot be reached."""

from __future__ import annotations

import os
import sys

import dj_database_url
import psycopg

url = os.environ.get("DATABASE_URL") or "postgres://postgres@127.0.0.1:5432/safeguarding"
cfg = dj_database_url.parse(url)
if cfg["ENGINE"] != "django.db.backends.postgresql":
    sys.exit(f"make test runs on PostgreSQL; DATABASE_URL points at {cfg['ENGINE']}.")
try:
    psycopg.connect(
        host=cfg["HOST"] or None,
        port=cfg["PORT"] or None,
        user=cfg["USER"] or None,
        password=cfg["PASSWORD"] or None,
        dbname="postgres",
        connect_timeout=5,
    ).close()
except psycopg.OperationalError as exc:
    where = f"{cfg['HOST'] or 'local socket'}:{cfg['PORT'] or 5432} as {cfg['USER'] or 'current user'}"
    sys.exit(
        f"Cannot reach PostgreSQL at {where}.\n"
        f"  {str(exc).strip().splitlines()[0]}\n"
        "Start it (e.g. `pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start`) "
        "or set DATABASE_URL=postgres://USER@HOST:PORT/NAME."
    )
