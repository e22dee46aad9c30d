"""Thin Celery tasks: they take chunk bounds and call the services.

A full run fans the chunks out as a group (more workers finish it sooner) and a chord collects the
results. Each chunk is one transaction and idempotent, and tasks are acknowledged late and rejected
when a worker dies, so a chunk killed half-way is simply run again.
"""

from __future__ import annotations

import datetime as dt

from celery import chord, shared_task
from django.db import IntegrityError, OperationalError
from django.utils import timezone

from escalation.models import CheckRun, CheckRunKind, CheckSettings
from escalation.services.checks import ChunkSpec, RunReport, check_chunk, finish_run, start_run
from escalation.services.prompts import escalate_overdue

CHUNK_TASK_OPTIONS = {
    "acks_late": True,
    "reject_on_worker_lost": True,
    "autoretry_for": (OperationalError, IntegrityError),
    "retry_backoff": True,
    "max_retries": 5,
}


@shared_task(name="escalation.check_chunk", **CHUNK_TASK_OPTIONS)
def check_chunk_task(*, lo=None, hi=None, ids=None, rule_codes=None, as_of: str) -> dict:
    chunk = ChunkSpec(lo=lo, hi=hi, ids=ids)
    return check_chunk(chunk=chunk, rule_codes=rule_codes, as_of=dt.datetime.fromisoformat(as_of)).to_dict()


@shared_task(name="escalation.finish_run", acks_late=True)
def finish_run_task(results: list[dict], *, run_id: int, as_of: str) -> dict:
    report = RunReport()
    for result in results:
        report.merge(result)
    report.prompts_escalated = escalate_overdue(as_of=dt.datetime.fromisoformat(as_of))
    finish_run(run=CheckRun.objects.get(pk=run_id), report=report)
    return report.to_dict()


def _dispatch(kind: str, *, incremental: bool = False, rule_codes: list[str] | None = None) -> int:
    # The run's time and its safe point for the next incremental run are taken before the families
    # are read (`start_run`), so a change the plan cannot see is always after that point.
    as_of = timezone.now()
    run, chunks = start_run(
        kind=kind, as_of=as_of, cfg=CheckSettings.load(), incremental=incremental, rule_codes=rule_codes
    )
    header = [
        check_chunk_task.s(**chunk.as_kwargs(), rule_codes=rule_codes, as_of=as_of.isoformat()) for chunk in chunks
    ]
    if header:
        chord(header)(finish_run_task.s(run_id=run.pk, as_of=as_of.isoformat()))
    else:
        finish_run_task.delay([], run_id=run.pk, as_of=as_of.isoformat())
    return run.pk


@shared_task(name="escalation.run_full_checks")
def run_full_checks(rule_codes: list[str] | None = None) -> int:
    return _dispatch(CheckRunKind.FULL, rule_codes=rule_codes)


@shared_task(name="escalation.run_incremental_checks")
def run_incremental_checks() -> int:
    return _dispatch(CheckRunKind.INCREMENTAL, incremental=True)
