"""A real Celery worker on Redis runs a chunked full checks run to the end.

The worker is a separate process, so the data is committed (transactional test) and the worker is
pointed at the test database. A private queue and Redis database keep it apart from any other worker.
"""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
import redis
from django.conf import settings
from django.db import connection
from django.utils import timezone

from cases.models import Family
from cases.tests.factories import MemberFactory, TeamFactory, UserFactory
from escalation.models import CheckRun, CheckSettings, Flag
from visits.models import Appointment

pytestmark = [pytest.mark.celery_worker, pytest.mark.django_db(transaction=True)]

REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
ROOT = Path(settings.BASE_DIR)


def _database_url() -> str:
    s = connection.settings_dict
    auth = s["USER"] + (f":{s['PASSWORD']}" if s["PASSWORD"] else "")
    return f"postgres://{auth}@{s['HOST'] or '127.0.0.1'}:{s['PORT'] or 5432}/{s['NAME']}"


def _forget_connections(app) -> None:
    """The app keeps what it first made from its settings: the queues (the default queue among
    them), the message sender, the broker connections and the result backend. An earlier test that
    sent or ran a task made them for the default queue and the in-memory broker, which this worker
    never reads, so the run would wait until it timed out (seen only in a full run). Made again
    from the current settings."""
    if app._pool is not None:
        app._pool.force_close_all()
    app._pool = None
    app.__dict__.pop("amqp", None)
    app._local.__dict__.pop("backend", None)


@pytest.fixture
def celery_on_redis():
    """Point the app at Redis for this test and start a worker (2 processes) on a private queue."""
    from safeguarding.celery import app

    try:
        redis.Redis.from_url(REDIS_URL).ping()
    except redis.ConnectionError as exc:  # pragma: no cover - environment problem, said clearly
        pytest.fail(f"Redis is not reachable at {REDIS_URL}: {exc}. Start it (see .ci/run).")
    queue = f"test-{uuid.uuid4().hex[:8]}"
    saved = {k: app.conf.get(k) for k in ("task_always_eager", "broker_url", "result_backend", "task_default_queue")}
    app.conf.update(task_always_eager=False, broker_url=REDIS_URL, result_backend=REDIS_URL, task_default_queue=queue)
    _forget_connections(app)
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "safeguarding.settings.base",
        "DATABASE_URL": _database_url(),
        "REDIS_URL": REDIS_URL,
        "CELERY_TASK_ALWAYS_EAGER": "false",
        "CELERY_TASK_DEFAULT_QUEUE": queue,
    }
    worker = subprocess.Popen(  # noqa: S603 - our own interpreter and arguments
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
            "2",
            "--loglevel",
            "WARNING",
            "--without-gossip",
            "--without-mingle",
            "--without-heartbeat",
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        yield app
    finally:
        worker.terminate()
        try:
            out, _ = worker.communicate(timeout=20)
        except subprocess.TimeoutExpired:
            worker.kill()
            out, _ = worker.communicate()
        app.conf.update(**saved)
        _forget_connections(app)
        if out:
            print(out.decode(errors="replace")[-4000:])


def _families_with_was_not_brought(n: int) -> list[Family]:
    team = TeamFactory()
    UserFactory(team=team, agency=team.agency, role="manager")
    families = Family.objects.bulk_create(
        Family(reference=f"W-{i:05d}", name=f"Worker family {i}", team=team, significant_adults_confirmed=True)
        for i in range(n)
    )
    now = timezone.now()
    appointments = []
    for family in families[::10]:  # every tenth family: a child not brought twice
        child = MemberFactory(family=family, role="child")
        for days in (5, 12):
            appointments.append(
                Appointment(
                    member=child,
                    family=family,
                    for_child=True,
                    agency=team.agency,
                    kind="gp",
                    scheduled_for=now - dt.timedelta(days=days),
                    status="was_not_brought",
                )
            )
    Appointment.objects.bulk_create(appointments)
    return families


def test_a_real_worker_finishes_a_chunked_full_run(celery_on_redis):
    cfg = CheckSettings.load()
    cfg.chunk_size = 100
    cfg.save()
    families = _families_with_was_not_brought(250)

    from escalation.tasks import run_full_checks

    run_id = run_full_checks.delay().get(timeout=60)
    deadline = time.monotonic() + 90
    run = CheckRun.objects.get(pk=run_id)
    while run.finished_at is None and time.monotonic() < deadline:
        time.sleep(0.5)
        run.refresh_from_db()
    assert run.finished_at is not None, "the chord did not finish within 90 s"
    assert run.chunks == 3 and run.chunks_done == 3
    assert run.families == len(families)
    assert run.counts["opened"]["was_not_brought"] == 25
    assert run.counts["opened"]["no_lead_professional"] == 250
    assert Flag.objects.filter(rule="was_not_brought", status="open").count() == 25
