"""Shared set-up for the benchmarks: a dedicated PostgreSQL database, seeded once and reused."""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
BENCH_DB_URL = os.environ.get("BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/safeguarding_bench")


def setup_django() -> None:
    os.environ["DATABASE_URL"] = BENCH_DB_URL
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "safeguarding.settings.base")
    os.environ.setdefault("DEBUG", "false")
    os.environ.setdefault("SECRET_KEY", "bench-only-" + "x" * 50)
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    sys.path.insert(0, str(ROOT))
    _ensure_database()
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


def _ensure_database() -> None:
    import dj_database_url
    import psycopg

    cfg = dj_database_url.parse(BENCH_DB_URL)
    with psycopg.connect(
        host=cfg["HOST"],
        port=cfg["PORT"] or 5432,
        user=cfg["USER"],
        password=cfg["PASSWORD"] or None,
        dbname="postgres",
        autocommit=True,
    ) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [cfg["NAME"]]).fetchone()
        if not exists:
            conn.execute(f'CREATE DATABASE "{cfg["NAME"]}"')


def ensure_dataset(families: int, seed: int = 1) -> dict:
    """Seed `families` families once; reuse them on later runs (a different size starts afresh)."""
    from django.core.management import call_command
    from django.db import connection

    from cases.models import Family, Team
    from cases.seed import team_count

    have = Family.objects.count()
    if have == families and Team.objects.filter(families__isnull=False).distinct().count() == team_count(families):
        # Earlier runs (checks, load tests) changed rows: fresh statistics and visibility map, as
        # autovacuum would keep them in production, so each run measures the same thing.
        with connection.cursor() as cursor:
            cursor.execute("VACUUM (ANALYZE)")
        return {"seeded": False, "seconds": 0.0}
    if have:
        print(f"bench: data set has {have} families, want {families}: starting afresh", flush=True)
        call_command("flush", "--no-input", verbosity=0)
        call_command("migrate", verbosity=0)
    print(f"bench: seeding {families} families (once; reused by later runs)", flush=True)
    started = time.perf_counter()
    call_command("seed_demo", families=families, seed=seed)  # ends with VACUUM (ANALYZE)
    return {"seeded": True, "seconds": round(time.perf_counter() - started, 1)}


def dataset_sizes() -> dict:
    from cases.models import Family, Member
    from referrals.models import Referral
    from visits.models import Appointment, Visit

    return {
        "families": Family.objects.count(),
        "members": Member.objects.count(),
        "visits": Visit.objects.count(),
        "appointments": Appointment.objects.count(),
        "referrals": Referral.objects.count(),
    }


def machine() -> dict:
    def cmd(*args: str) -> str:
        try:
            return subprocess.run(args, capture_output=True, text=True, check=False).stdout.strip()
        except OSError:
            return ""

    cpu = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = ""
    try:
        kb = int(Path("/proc/meminfo").read_text().split()[1])
        mem = f"{kb / 1024 / 1024:.0f} GiB"
    except (OSError, ValueError, IndexError):
        pass
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "memory": mem,
        "python": platform.python_version(),
        "postgresql": cmd("psql", "--version"),
    }


def write_results(section: str, data: dict) -> Path:
    """Merge one benchmark's figures into docs/performance.json (other sections are kept)."""
    DOCS.mkdir(exist_ok=True)
    path = DOCS / "performance.json"
    try:
        doc = json.loads(path.read_text())
    except (FileNotFoundError, ValueError):
        doc = {}
    doc[section] = data
    path.write_text(json.dumps(doc, indent=2, sort_keys=True, default=str) + "\n")
    return path
