"""Benchmark of the checks run (issue 3): a full run over N families, a second (steady) full run,
an incremental run after changing 1 % of families, queries per chunk, and the full run on Celery
workers on Redis.

    python -m bench.checks [--families 100000] [--workers 2]
"""

from __future__ import annotations

import argparse
import os
import random
import subprocess
import sys
import time
import uuid

from bench.common import BENCH_DB_URL, ROOT, dataset_sizes, ensure_dataset, machine, setup_django, write_results


def _reset_checks() -> None:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "TRUNCATE escalation_promptevent, escalation_escalationprompt, escalation_flag, escalation_checkrun"
        )


def _timed_run(**kwargs) -> tuple[float, dict]:
    from escalation.services.checks import run_checks_in_process

    started = time.perf_counter()
    _, report = run_checks_in_process(**kwargs)
    return time.perf_counter() - started, report.to_dict()


def _change_one_percent(seed: int = 7) -> int:
    """Change 1 % of families as practitioners would: a missed appointment recorded for a child."""
    from django.db import transaction
    from django.utils import timezone

    from cases.models import Family
    from visits.models import Appointment

    rng = random.Random(seed)
    ids = list(Family.objects.values_list("id", flat=True))
    chosen = rng.sample(ids, max(1, len(ids) // 100))
    now = timezone.now()
    with transaction.atomic():
        Appointment.objects.filter(
            id__in=Appointment.objects.filter(family_id__in=chosen, for_child=True, status="attended")
            .order_by("family_id", "-scheduled_for")
            .distinct("family_id")
            .values("id")
        ).update(status="was_not_brought", updated_at=now)
        Family.objects.filter(id__in=chosen).update(updated_at=now)
    return len(chosen)


def _queries_per_chunk() -> dict:
    """Queries for one chunk of small families and one of large families: they must be equal."""
    from django.db import connection
    from django.db.models import Count
    from django.test.utils import CaptureQueriesContext

    from cases.models import Family
    from escalation.services.checks import ChunkSpec, check_chunk

    sized = Family.objects.annotate(n=Count("appointments")).order_by("n").values_list("id", "n")
    ordered = list(sized)
    small = [fid for fid, _ in ordered[:200]]
    large = [fid for fid, _ in ordered[-200:]]
    out = {}
    for label, ids in (("small", small), ("large", large)):
        with CaptureQueriesContext(connection) as ctx:
            check_chunk(chunk=ChunkSpec(ids=ids))
        rows = Family.objects.filter(id__in=ids).aggregate(n=Count("appointments"))["n"]
        out[label] = {"families": len(ids), "appointments": rows, "queries": len(ctx.captured_queries)}
    return out


def _celery_full_run(workers: int) -> float | None:
    """Steady-state full run dispatched to `workers` single-process workers on Redis."""
    import redis
    from django.conf import settings

    from escalation.models import CheckRun

    url = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/14")
    try:
        redis.Redis.from_url(url).ping()
    except redis.ConnectionError:
        print("bench: Redis not reachable; skipping the Celery figures", flush=True)
        return None
    from safeguarding.celery import app

    queue = f"bench-{uuid.uuid4().hex[:8]}"
    app.conf.update(task_always_eager=False, broker_url=url, result_backend=url, task_default_queue=queue)
    env = {
        **os.environ,
        "DATABASE_URL": BENCH_DB_URL,
        "REDIS_URL": url,
        "CELERY_TASK_ALWAYS_EAGER": "false",
        "CELERY_TASK_DEFAULT_QUEUE": queue,
        "DJANGO_SETTINGS_MODULE": settings.SETTINGS_MODULE,
    }
    procs = [
        subprocess.Popen(
            [
                sys.executable,
                "-m",
                "celery",
                "-A",
                "safeguarding",
                "worker",
                "-Q",
                queue,
                "--concurrency",
                "1",
                "-n",
                f"bench{i}@%h",
                "--loglevel",
                "WARNING",
                "--without-gossip",
                "--without-mingle",
            ],
            cwd=ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for i in range(workers)
    ]
    try:
        time.sleep(3)  # let the workers connect before the clock starts
        from escalation.tasks import run_full_checks

        started = time.perf_counter()
        run_id = run_full_checks.delay().get(timeout=600)
        run = CheckRun.objects.get(pk=run_id)
        while run.finished_at is None and time.perf_counter() - started < 900:
            time.sleep(0.2)
            run.refresh_from_db()
        return time.perf_counter() - started if run.finished_at else None
    finally:
        for p in procs:
            p.terminate()
        for p in procs:
            p.wait(timeout=30)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--families", type=int, default=int(os.environ.get("BENCH_FAMILIES", 100_000)))
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()

    setup_django()
    seeded = ensure_dataset(args.families)
    sizes = dataset_sizes()
    from escalation.models import CheckSettings

    chunk_size = CheckSettings.load().chunk_size
    print(f"bench: {sizes}", flush=True)

    _reset_checks()
    cold, cold_report = _timed_run()
    print(f"bench: first full run (opens every flag) {cold:.1f} s", flush=True)
    steady, steady_report = _timed_run()
    print(f"bench: steady full run {steady:.1f} s", flush=True)
    changed = _change_one_percent()
    incremental, incremental_report = _timed_run(incremental=True)
    print(f"bench: incremental run after changing {changed} families {incremental:.2f} s", flush=True)
    per_chunk = _queries_per_chunk()
    print(f"bench: queries per chunk {per_chunk}", flush=True)
    celery = {}
    for n in sorted({1, args.workers}):
        seconds = _celery_full_run(n)
        if seconds is not None:
            celery[f"{n}_workers"] = round(seconds, 1)
            print(f"bench: full run on {n} Celery worker(s) {seconds:.1f} s", flush=True)

    path = write_results(
        "checks",
        {
            "machine": machine(),
            "dataset": sizes,
            "seeding_seconds": seeded["seconds"],
            "chunk_size": chunk_size,
            "full_run_first_seconds": round(cold, 1),
            "full_run_steady_seconds": round(steady, 1),
            "incremental_changed_families": changed,
            "incremental_seconds": round(incremental, 2),
            "queries_per_chunk": per_chunk,
            "celery_full_run_seconds": celery,
            "flags_opened_first_run": cold_report["opened"],
            "prompts_raised_first_run": cold_report["prompts_raised"],
            "incremental_report": incremental_report,
            "steady_report_opened": steady_report["opened"],
            "budget": {"full_run_seconds": 60, "incremental_seconds": 5},
        },
    )
    from bench.report import render

    render()
    print(f"bench: wrote {path} and docs/performance.md", flush=True)


if __name__ == "__main__":
    main()
