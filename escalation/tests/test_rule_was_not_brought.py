"""`was_not_brought` (DESIGN 4): a child with 2+ `was_not_brought` appointments in the last 90 days (any
agencies), or 1 for a `critical` appointment. Medium; high when 3+ in 180 days, when they span 2+
agencies, or for a critical appointment."""

from __future__ import annotations

import datetime as dt

import pytest

from cases.tests.factories import AgencyFactory, MemberFactory
from escalation.models import CheckSettings
from visits.models import AppointmentStatus

from .helpers import LONDON, appointment, day_before, open_flags, run

pytestmark = pytest.mark.django_db

RULE = "was_not_brought"
WNB = AppointmentStatus.WAS_NOT_BROUGHT


def wnb_flags():
    return list(open_flags(rule=RULE))


@pytest.fixture
def gp(db):
    return AgencyFactory(name="Riverside GP Practice", kind="gp")


def test_two_wnbs_in_90_days_at_one_agency_raise_a_medium_flag_on_the_child(family, child, health_agency):
    appointment(child, 10, WNB, agency=health_agency)
    appointment(child, 40, WNB, agency=health_agency)

    run(rules=[RULE])

    [flag] = wnb_flags()
    assert flag.family == family
    assert flag.member == child
    assert flag.severity == "medium"


def test_a_single_wnb_raises_no_flag(child, health_agency):
    appointment(child, 10, WNB, agency=health_agency)

    run(rules=[RULE])

    assert wnb_flags() == []


@pytest.mark.parametrize(("days_ago", "flagged"), [(89, True), (90, True), (91, False)])
def test_the_second_wnb_counts_on_day_89_and_90_but_not_91(child, health_agency, days_ago, flagged):
    appointment(child, 5, WNB, agency=health_agency)
    appointment(child, days_ago, WNB, agency=health_agency)

    run(rules=[RULE])

    assert bool(wnb_flags()) is flagged


def test_the_window_starts_at_the_start_of_the_local_day_90_days_before(child, health_agency):
    appointment(child, 5, WNB, agency=health_agency)
    # 23:59 London on day 91 is out; 00:00 London on day 90 is in (both days in GMT, as_of in BST).
    first = appointment(child, day_before(91, hour=23, minute=59), WNB, agency=health_agency)

    run(rules=[RULE])
    assert wnb_flags() == []

    first.scheduled_for = day_before(90, hour=0, minute=0)
    first.save()
    run(rules=[RULE])
    assert len(wnb_flags()) == 1


def test_the_window_is_counted_from_the_london_date_not_the_utc_date(child, health_agency):
    # 23:30 UTC on Sunday 15 June 2025 is 00:30 on Monday 16 June in London: "today" is the 16th,
    # so 17 March is 91 days back (out), although it is only 90 days before the UTC date.
    as_of = dt.datetime(2025, 6, 15, 23, 30, tzinfo=dt.UTC)
    appointment(child, 5, WNB, agency=health_agency)
    old = appointment(child, dt.datetime(2025, 3, 17, 10, 0, tzinfo=LONDON), WNB, agency=health_agency)

    run(rules=[RULE], as_of=as_of)
    assert wnb_flags() == []

    old.scheduled_for = dt.datetime(2025, 3, 18, 10, 0, tzinfo=LONDON)
    old.save()
    run(rules=[RULE], as_of=as_of)
    assert len(wnb_flags()) == 1


def test_one_wnb_of_a_critical_appointment_raises_a_high_flag(child, health_agency):
    appointment(child, 20, WNB, agency=health_agency, critical=True)

    run(rules=[RULE])

    [flag] = wnb_flags()
    assert flag.severity == "high"
    assert "(critical)" in flag.detail
    assert flag.evidence["critical"] == 1


def test_a_critical_wnb_older_than_90_days_alone_raises_no_flag(child, health_agency):
    appointment(child, 120, WNB, agency=health_agency, critical=True)

    run(rules=[RULE])

    assert wnb_flags() == []


def test_two_wnbs_at_two_agencies_raise_a_high_flag(child, health_agency, gp):
    appointment(child, 10, WNB, agency=health_agency)
    appointment(child, 30, WNB, agency=gp)

    run(rules=[RULE])

    [flag] = wnb_flags()
    assert flag.severity == "high"
    assert sorted(flag.evidence["agencies"]) == sorted([health_agency.name, gp.name])


def test_three_wnbs_in_180_days_raise_a_high_flag(child, health_agency):
    appointment(child, 10, WNB, agency=health_agency)
    appointment(child, 30, WNB, agency=health_agency)
    appointment(child, 150, WNB, agency=health_agency)

    run(rules=[RULE])

    [flag] = wnb_flags()
    assert flag.severity == "high"
    assert flag.evidence["count_window"] == 2
    assert flag.evidence["count_long_window"] == 3
    assert "3 in the last 180 days" in flag.detail


def test_one_recent_wnb_and_one_older_than_90_days_raise_no_flag(child, health_agency):
    appointment(child, 10, WNB, agency=health_agency)
    appointment(child, 150, WNB, agency=health_agency)

    run(rules=[RULE])

    assert wnb_flags() == []


def test_an_adults_did_not_attend_never_counts(family, mother, health_agency, gp):
    mother.date_of_birth = dt.date(1995, 1, 1)
    mother.save()
    for days, agency in ((5, health_agency), (15, gp), (25, health_agency)):
        appointment(mother, days, AppointmentStatus.DID_NOT_ATTEND, agency=agency, critical=True)

    run(rules=[RULE])

    assert wnb_flags() == []


def test_other_statuses_future_and_booked_appointments_do_not_count(child, health_agency):
    appointment(child, 10, WNB, agency=health_agency)
    # A WNB dated after as_of (recorded ahead by mistake) is not yet a missed appointment.
    appointment(child, -3, WNB, agency=health_agency)
    appointment(child, 20, AppointmentStatus.BOOKED, agency=health_agency, critical=True)
    appointment(child, 30, AppointmentStatus.ATTENDED, agency=health_agency)
    appointment(child, 40, AppointmentStatus.CANCELLED_BY_FAMILY, agency=health_agency)
    appointment(child, 50, AppointmentStatus.RESCHEDULED, agency=health_agency)
    appointment(child, 60, AppointmentStatus.CANCELLED_BY_SERVICE, agency=health_agency)

    run(rules=[RULE])

    assert wnb_flags() == []


def test_wnbs_are_counted_per_child_not_per_family(family, child, health_agency):
    sibling = MemberFactory(family=family, given_name="Mia", family_name="Smith", role="child")
    appointment(child, 10, WNB, agency=health_agency)
    appointment(sibling, 20, WNB, agency=health_agency)

    run(rules=[RULE])
    assert wnb_flags() == []

    appointment(sibling, 30, WNB, agency=health_agency)
    run(rules=[RULE])
    [flag] = wnb_flags()
    assert flag.member == sibling


def test_each_child_with_wnbs_gets_their_own_flag(family, child, health_agency):
    sibling = MemberFactory(family=family, given_name="Mia", family_name="Smith", role="child")
    for member in (child, sibling):
        appointment(member, 10, WNB, agency=health_agency)
        appointment(member, 20, WNB, agency=health_agency)

    run(rules=[RULE])

    assert sorted(f.member_id for f in wnb_flags()) == sorted([child.pk, sibling.pk])


def test_the_detail_names_the_child_the_dates_and_the_agencies(child, health_agency, gp):
    appointment(child, 10, WNB, agency=health_agency)  # 3 Jun 2025
    appointment(child, 45, WNB, agency=gp)  # 29 Apr 2025

    run(rules=[RULE])

    [flag] = wnb_flags()
    assert flag.detail.startswith("Kai Smith was not brought to 2 appointments in the last 90 days across 2 agencies")
    assert "3 Jun 2025 Northshire Health Visiting" in flag.detail
    assert "29 Apr 2025 Riverside GP Practice" in flag.detail


def test_the_evidence_lists_the_appointment_ids_dates_and_agencies(child, health_agency, gp):
    recent = appointment(child, 10, WNB, agency=health_agency)
    other = appointment(child, 45, WNB, agency=gp)
    older = appointment(child, 150, WNB, agency=gp)
    appointment(child, 12, AppointmentStatus.ATTENDED, agency=gp)

    run(rules=[RULE])

    [flag] = wnb_flags()
    listed = {e["appointment"]: e for e in flag.evidence["appointments"]}
    assert set(listed) == {recent.pk, other.pk, older.pk}
    assert listed[recent.pk]["date"] == "2025-06-03"
    assert listed[recent.pk]["agency"] == health_agency.name
    assert listed[recent.pk]["in_window"] is True
    assert listed[older.pk]["in_window"] is False


def test_the_thresholds_come_from_check_settings(child, health_agency):
    cfg = CheckSettings.load()
    cfg.wnb_min_count = 3
    cfg.save()
    appointment(child, 10, WNB, agency=health_agency)
    appointment(child, 20, WNB, agency=health_agency)

    run(rules=[RULE])
    assert wnb_flags() == []

    appointment(child, 30, WNB, agency=health_agency)
    run(rules=[RULE])
    assert len(wnb_flags()) == 1


# --- the steady state: a flag is rebuilt only when what it was built from changes ----------------


def _later(hours: int) -> dt.datetime:
    from .helpers import AS_OF

    return AS_OF + dt.timedelta(hours=hours)


def test_a_run_where_nothing_changed_keeps_the_flag_without_touching_what_a_reader_sees(child, health_agency):
    appointment(child, 10, WNB, agency=health_agency)
    appointment(child, 40, WNB, agency=health_agency)
    run(rules=[RULE])
    [before] = wnb_flags()

    run(rules=[RULE], as_of=_later(1))

    [after] = wnb_flags()
    assert after.pk == before.pk
    assert after.signature and after.signature == before.signature
    assert (after.detail, after.evidence, after.updated_at) == (before.detail, before.evidence, before.updated_at)
    assert after.last_seen == _later(1)


def test_a_steady_run_builds_no_evidence(child, health_agency):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    appointment(child, 10, WNB, agency=health_agency)
    appointment(child, 40, WNB, agency=health_agency)
    run(rules=[RULE])

    with CaptureQueriesContext(connection) as steady:
        run(rules=[RULE], as_of=_later(1))

    queries = [q["sql"] for q in steady.captured_queries]
    # One query on the appointments (the grouped counts), none for the evidence...
    assert sum('FROM "visits_appointment"' in q for q in queries) == 1
    # ...and the flags are read without their detail and evidence, and not rewritten.
    flag_reads = [q for q in queries if q.startswith("SELECT") and 'FROM "escalation_flag"' in q]
    assert flag_reads and all('"escalation_flag"."evidence"' not in q for q in flag_reads)
    assert not [q for q in queries if q.startswith('UPDATE "escalation_flag" SET "severity"')]


@pytest.mark.parametrize(
    "change",
    ["child renamed", "agency renamed", "appointment moved", "appointment kind", "appointment replaced"],
)
def test_a_change_to_anything_the_detail_names_rebuilds_the_flag(child, health_agency, change):
    first = appointment(child, 10, WNB, agency=health_agency)
    appointment(child, 40, WNB, agency=health_agency)
    run(rules=[RULE])
    [before] = wnb_flags()

    if change == "child renamed":
        child.given_name = "Renamed"
        child.save()
    elif change == "agency renamed":
        health_agency.name = "Renamed Health Visiting"
        health_agency.save()
    elif change == "appointment moved":
        first.scheduled_for = day_before(12)
        first.save()
    elif change == "appointment kind":
        first.kind = "dental" if first.kind != "dental" else "gp"
        first.save()
    else:
        first.status = AppointmentStatus.ATTENDED
        first.save()
        appointment(child, 11, WNB, agency=health_agency)
    run(rules=[RULE], as_of=_later(1))

    [after] = wnb_flags()
    assert after.pk == before.pk
    assert after.signature != before.signature
    assert after.updated_at == _later(1)
    assert (after.detail, after.evidence) != (before.detail, before.evidence)
    if change == "child renamed":
        assert after.detail.startswith("Renamed ")
    if change == "agency renamed":
        assert "Renamed Health Visiting" in after.detail


def test_an_appointment_leaving_the_90_day_window_rewrites_the_detail(child, health_agency):
    appointment(child, 10, WNB, agency=health_agency)
    appointment(child, 20, WNB, agency=health_agency)
    appointment(child, 88, WNB, agency=health_agency)
    run(rules=[RULE])
    [before] = wnb_flags()
    assert "3 appointments in the last 90 days" in before.detail

    run(rules=[RULE], as_of=_later(24 * 5))  # day 88 is now day 93: out of 90, still in 180

    [after] = wnb_flags()
    assert "2 appointments in the last 90 days" in after.detail
    assert "3 in the last 180 days" in after.detail
    assert after.updated_at == _later(24 * 5)


def test_a_flag_from_before_signatures_gets_one_without_a_change_readers_would_see(child, health_agency):
    appointment(child, 10, WNB, agency=health_agency)
    appointment(child, 40, WNB, agency=health_agency)
    run(rules=[RULE])
    [flag] = wnb_flags()
    type(flag).objects.filter(pk=flag.pk).update(signature="")

    run(rules=[RULE], as_of=_later(1))

    [after] = wnb_flags()
    assert after.signature == flag.signature
    assert after.updated_at == flag.updated_at  # a partner's `updated_since` sync is not woken for nothing
    assert after.last_seen == _later(1)


def test_a_new_wording_version_rebuilds_every_flag(child, health_agency, monkeypatch):
    from escalation.rules.was_not_brought import WasNotBrought

    appointment(child, 10, WNB, agency=health_agency)
    appointment(child, 40, WNB, agency=health_agency)
    run(rules=[RULE])
    [before] = wnb_flags()

    monkeypatch.setattr(WasNotBrought, "version", WasNotBrought.version + 1)
    run(rules=[RULE], as_of=_later(1))

    [after] = wnb_flags()
    assert after.signature != before.signature
    assert after.detail == before.detail
    assert after.updated_at == before.updated_at
