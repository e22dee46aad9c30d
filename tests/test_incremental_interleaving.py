"""Incremental checks see every committed change, whatever the interleaving (issue 14, item 3).

Two real connections: B opens a transaction and changes a family before an incremental run starts,
the run reads the families while B is still open (so it cannot see the change), B commits, and the
next incremental run must pick the family up. The change's `updated_at` (set inside B's transaction)
is earlier than the first run's start, so a "since the last run started" plan misses it until the
nightly run.
"""

from __future__ import annotations

import datetime as dt
import threading

import pytest
from django.db import connection, transaction
from django.utils import timezone

from cases.models import Family
from cases.tests.factories import FamilyFactory
from escalation.models import CheckRun, CheckRunKind, CheckSettings, Flag, FlagStatus
from escalation.services.checks import run_checks_in_process
from visits.models import AppointmentStatus
from visits.services import appointment_record

pytestmark = pytest.mark.django_db(transaction=True)
two_writers = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="two writers at once: PostgreSQL (SQLite has one writer)"
)

WAIT = 10  # seconds: generous, a failure here is a hang, not a slow pass


def _no_overlap():
    """No clock-skew margin, so the test shows the open-transaction rule itself, not the margin."""
    cfg = CheckSettings.load()
    cfg.incremental_overlap_seconds = 0
    cfg.save()


class Writer(threading.Thread):
    """Connection B: runs `change` inside a transaction, says so, and commits only when told."""

    def __init__(self, change):
        super().__init__(daemon=True)
        self.change = change
        self.changed = threading.Event()
        self.commit = threading.Event()
        self.error: BaseException | None = None

    def run(self):
        try:
            with transaction.atomic():
                self.change()
                self.changed.set()
                assert self.commit.wait(WAIT), "never told to commit"
        except BaseException as exc:  # reported to the test by `finish`
            self.error = exc
            self.changed.set()
        finally:
            connection.close()

    def finish(self):
        self.commit.set()
        self.join(WAIT)
        assert not self.is_alive()
        if self.error:
            raise self.error


def _open_flags(family, rule):
    return Flag.objects.filter(family=family, rule=rule, status=FlagStatus.OPEN)


@two_writers
def test_a_change_committed_after_an_incremental_run_read_the_families_is_seen_by_the_next(team, practitioner):
    _no_overlap()
    family = FamilyFactory(team=team, lead_professional=practitioner)
    run_checks_in_process(kind=CheckRunKind.FULL)  # the nightly run: nothing to flag
    assert not _open_flags(family, "no_lead_professional").exists()

    def leave():
        # As a service does: read (the transaction starts), then write with the time of the change.
        Family.objects.select_for_update().get(pk=family.pk)
        Family.objects.filter(pk=family.pk).update(lead_professional=None, updated_at=timezone.now())

    b = Writer(leave)
    b.start()
    assert b.changed.wait(WAIT)
    first, _ = run_checks_in_process(kind=CheckRunKind.INCREMENTAL, incremental=True)
    assert not _open_flags(family, "no_lead_professional").exists()  # B has not committed: not visible
    b.finish()
    assert Family.objects.get(pk=family.pk).updated_at < first.started_at  # why "since it started" misses it

    second, report = run_checks_in_process(kind=CheckRunKind.INCREMENTAL, incremental=True)

    assert _open_flags(family, "no_lead_professional").exists()
    assert report.families >= 1


@two_writers
def test_an_appointment_committed_after_an_incremental_run_read_the_families_is_seen_by_the_next(
    family, child, practitioner, health_agency
):
    _no_overlap()
    now = timezone.now()
    appointment_record(
        actor=practitioner,
        member=child,
        agency=health_agency,
        kind="health_review",
        status=AppointmentStatus.WAS_NOT_BROUGHT,
        scheduled_for=now - dt.timedelta(days=20),
    )
    run_checks_in_process(kind=CheckRunKind.FULL)  # one "was not brought": not yet a pattern
    assert not _open_flags(family, "was_not_brought").exists()
    Family.objects.filter(pk=family.pk).update(updated_at=now - dt.timedelta(days=1))

    def second_missed_appointment():
        appointment_record(
            actor=practitioner,
            member=child,
            agency=health_agency,
            kind="gp",
            status=AppointmentStatus.WAS_NOT_BROUGHT,
            scheduled_for=now - dt.timedelta(days=10),
        )

    b = Writer(second_missed_appointment)
    b.start()
    assert b.changed.wait(WAIT)
    run_checks_in_process(kind=CheckRunKind.INCREMENTAL, incremental=True)
    assert not _open_flags(family, "was_not_brought").exists()
    b.finish()

    run_checks_in_process(kind=CheckRunKind.INCREMENTAL, incremental=True)

    assert _open_flags(family, "was_not_brought").exists()


def test_a_run_records_a_safe_starting_point_for_the_next_no_later_than_its_own_start(family):
    cfg = CheckSettings.load()
    cfg.incremental_overlap_seconds = 30
    cfg.save()

    run, _ = run_checks_in_process(kind=CheckRunKind.INCREMENTAL, incremental=True)

    run = CheckRun.objects.get(pk=run.pk)
    assert run.next_since == run.started_at - dt.timedelta(seconds=30)


def test_the_celery_runs_record_their_safe_starting_point_too(family):
    from escalation.tasks import run_full_checks, run_incremental_checks

    for task in (run_full_checks, run_incremental_checks):
        run = CheckRun.objects.get(pk=task())
        assert run.next_since is not None
        assert run.next_since <= run.started_at
