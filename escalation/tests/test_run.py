"""Running the checks (DESIGN 4): idempotent, one open flag per family + rule + member, automatic
resolution with the time, nothing deleted, closed families, chunks, `--rule`/`--family`, incremental."""

from __future__ import annotations

import datetime as dt
import itertools

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection, transaction
from django.test.utils import CaptureQueriesContext

from cases.models import Family, FamilyStatus, Member
from cases.tests.factories import AgencyFactory, FamilyFactory, MemberFactory
from escalation.models import CheckRun, CheckRunKind, CheckSettings, EscalationPrompt, Flag, FlagStatus
from escalation.services.checks import ChunkSpec, check_chunk
from visits.models import Appointment, AppointmentStatus, Visit, VisitStatus
from visits.services import appointment_record

from .helpers import AS_OF, appointment, day_before, open_flags, run, visit

pytestmark = pytest.mark.django_db

WNB = AppointmentStatus.WAS_NOT_BROUGHT
ALL_RULES = {"missing_family_details", "was_not_brought", "engagement_decline", "no_lead_professional"}


def snapshot(qs=None):
    """The open flags as comparable facts."""
    qs = open_flags() if qs is None else qs
    return sorted(qs.values_list("family_id", "rule", "member_id", "severity", "detail"))


@pytest.fixture
def troubled(family, child, mother, health_agency, council):
    """A family every rule fires on: Kai not brought at two agencies, three planned visits with no
    access, the mother's date of birth and the father unknown, and no lead professional."""
    family.lead_professional = None
    family.save()
    appointment(child, 10, WNB, agency=health_agency)
    appointment(child, 20, WNB, agency=council)
    for days in (5, 15, 25):
        visit(family, days, VisitStatus.NO_ACCESS)
    return family


# --- idempotency ----------------------------------------------------------------------------------


def test_the_troubled_family_gets_one_flag_per_rule(troubled, child):
    _, report = run()

    assert {(f.rule, f.severity, f.member_id) for f in open_flags()} == {
        ("was_not_brought", "high", child.pk),
        ("engagement_decline", "high", None),
        ("missing_family_details", "medium", None),
        ("no_lead_professional", "medium", None),
    }
    assert dict(report.opened) == dict.fromkeys(ALL_RULES, 1)


def test_running_twice_gives_the_same_open_flags_and_opens_nothing_the_second_time(troubled):
    run()
    first = snapshot()
    ids = set(open_flags().values_list("pk", flat=True))
    prompts = EscalationPrompt.objects.count()

    _, report = run(as_of=AS_OF + dt.timedelta(hours=1))

    assert snapshot() == first
    assert set(open_flags().values_list("pk", flat=True)) == ids
    assert Flag.objects.count() == len(ids)
    assert sum(report.opened.values()) == 0
    assert sum(report.resolved.values()) == 0
    assert dict(report.kept) == dict.fromkeys(ALL_RULES, 1)
    assert report.prompts_raised == 0
    assert EscalationPrompt.objects.count() == prompts


def test_a_kept_flag_is_seen_again_but_first_seen_stays(troubled):
    run()
    later = AS_OF + dt.timedelta(hours=3)

    run(as_of=later)

    for flag in open_flags():
        assert (flag.first_seen, flag.last_seen) == (AS_OF, later)
        assert flag.updated_at == AS_OF  # nothing about it changed (syncs by ?updated_since= see no change)


def test_the_database_refuses_a_second_open_flag_for_the_same_family_rule_and_member(family, child):
    Flag.objects.create(family=family, member=child, rule="was_not_brought", severity="medium", detail="x")

    with pytest.raises(IntegrityError), transaction.atomic():
        Flag.objects.create(family=family, member=child, rule="was_not_brought", severity="high", detail="y")


def test_the_database_refuses_a_second_open_family_level_flag_too(family):
    # member=None counts as one member (NULLS NOT DISTINCT).
    Flag.objects.create(family=family, member=None, rule="no_lead_professional", severity="medium", detail="x")

    with pytest.raises(IntegrityError), transaction.atomic():
        Flag.objects.create(family=family, member=None, rule="no_lead_professional", severity="medium", detail="y")


def test_the_database_allows_a_new_open_flag_beside_resolved_ones_and_for_other_members(family, child):
    sibling = MemberFactory(family=family, role="child")
    Flag.objects.create(
        family=family, rule="no_lead_professional", severity="medium", detail="x", status="resolved", resolved_at=AS_OF
    )
    Flag.objects.create(family=family, rule="no_lead_professional", severity="medium", detail="y")
    Flag.objects.create(family=family, member=child, rule="was_not_brought", severity="medium", detail="z")
    Flag.objects.create(family=family, member=sibling, rule="was_not_brought", severity="medium", detail="z")

    assert Flag.objects.filter(family=family).count() == 4


def test_the_database_refuses_a_resolved_flag_without_a_time(family):
    with pytest.raises(IntegrityError), transaction.atomic():
        Flag.objects.create(
            family=family, rule="no_lead_professional", severity="medium", detail="x", status="resolved"
        )


# --- resolution -----------------------------------------------------------------------------------


def test_fixing_the_data_resolves_the_flag_automatically_with_the_time(troubled, practitioner):
    run()
    flag = open_flags(rule="no_lead_professional").get()

    troubled.lead_professional = practitioner
    troubled.save()
    fixed_at = AS_OF + dt.timedelta(days=1, hours=2)
    _, report = run(as_of=fixed_at)

    flag.refresh_from_db()
    assert (flag.status, flag.resolved_at, flag.updated_at) == ("resolved", fixed_at, fixed_at)
    assert report.resolved == {"no_lead_professional": 1}
    assert set(open_flags().values_list("rule", flat=True)) == ALL_RULES - {"no_lead_professional"}


def test_a_flag_resolves_when_its_evidence_ages_out_of_the_window(family, child, health_agency):
    appointment(child, 80, WNB, agency=health_agency)
    appointment(child, 85, WNB, agency=health_agency)
    run(rules=["was_not_brought"])
    flag = open_flags(rule="was_not_brought").get()

    later = AS_OF + dt.timedelta(days=10)  # the 85-day-old one is now 95 days old
    run(rules=["was_not_brought"], as_of=later)

    flag.refresh_from_db()
    assert (flag.status, flag.resolved_at) == ("resolved", later)


def test_a_resolved_flag_that_comes_back_opens_a_new_flag_and_the_old_stays_resolved(troubled, practitioner):
    run()
    old = open_flags(rule="no_lead_professional").get()
    troubled.lead_professional = practitioner
    troubled.save()
    resolved_at = AS_OF + dt.timedelta(days=1)
    run(as_of=resolved_at)

    troubled.lead_professional = None
    troubled.save()
    back_at = AS_OF + dt.timedelta(days=2)
    _, report = run(as_of=back_at)

    old.refresh_from_db()
    assert (old.status, old.resolved_at) == ("resolved", resolved_at)
    new = open_flags(rule="no_lead_professional").get()
    assert new.pk != old.pk
    assert new.first_seen == back_at
    assert report.opened["no_lead_professional"] == 1
    assert EscalationPrompt.objects.filter(flag=new).count() == 1


def test_flags_are_never_deleted_and_prompts_stay_when_their_flags_resolve(troubled, child, mother, practitioner):
    run()
    flag_ids = set(Flag.objects.values_list("pk", flat=True))
    prompts = {p.pk: p.status for p in EscalationPrompt.objects.all()}
    assert len(prompts) == len(flag_ids) == 4

    # Everything is fixed: every flag resolves.
    troubled.lead_professional = practitioner
    troubled.significant_adults_confirmed = True
    troubled.save()
    mother.date_of_birth = dt.date(1995, 1, 1)
    mother.save()
    MemberFactory(family=troubled, role="father", date_of_birth=dt.date(1990, 1, 1))
    Appointment.objects.all().delete()
    Visit.objects.all().delete()
    run(as_of=AS_OF + dt.timedelta(days=1))

    assert not open_flags().exists()
    assert set(Flag.objects.values_list("pk", flat=True)) == flag_ids
    assert set(Flag.objects.values_list("status", flat=True)) == {FlagStatus.RESOLVED}
    assert {p.pk: p.status for p in EscalationPrompt.objects.all()} == prompts


def test_a_flag_rising_to_high_is_kept_and_raises_a_prompt_to_the_team_manager(
    family, child, health_agency, council, manager, practitioner
):
    appointment(child, 10, WNB, agency=health_agency)
    appointment(child, 20, WNB, agency=health_agency)
    run(rules=["was_not_brought"])
    flag = open_flags(rule="was_not_brought").get()
    assert flag.severity == "medium"
    assert EscalationPrompt.objects.get(flag=flag).assigned_to == practitioner

    appointment(child, 3, WNB, agency=council)
    later = AS_OF + dt.timedelta(hours=1)
    _, report = run(rules=["was_not_brought"], as_of=later)

    flag.refresh_from_db()
    assert (flag.severity, flag.last_seen) == ("high", later)
    assert open_flags(rule="was_not_brought").get().pk == flag.pk
    assert (report.opened["was_not_brought"], report.kept["was_not_brought"], report.prompts_raised) == (0, 1, 1)
    assert list(EscalationPrompt.objects.filter(flag=flag).values_list("level", "assigned_to")) == [
        ("lead_professional", practitioner.pk),
        ("team_manager", manager.pk),
    ]


def test_a_flag_falling_to_medium_is_kept_and_raises_no_prompt(family, child, health_agency, council):
    appointment(child, 10, WNB, agency=health_agency)
    appointment(child, 20, WNB, agency=council)
    appointment(child, 30, WNB, agency=health_agency)
    run(rules=["was_not_brought"])
    flag = open_flags(rule="was_not_brought").get()
    assert flag.severity == "high"

    Appointment.objects.filter(agency=council).update(status=AppointmentStatus.ATTENDED)
    _, report = run(rules=["was_not_brought"], as_of=AS_OF + dt.timedelta(hours=1))

    flag.refresh_from_db()
    assert flag.severity == "medium"
    assert report.prompts_raised == 0
    assert EscalationPrompt.objects.filter(flag=flag).count() == 1


# --- closed families, --rule, --family ----------------------------------------------------------


def test_closed_families_get_no_flags(troubled):
    troubled.status = FamilyStatus.CLOSED
    troubled.save()

    _, report = run()

    assert not Flag.objects.exists()
    assert report.families == 1


def test_closing_a_family_resolves_all_its_open_flags(troubled):
    run()
    assert open_flags().count() == 4

    troubled.status = FamilyStatus.CLOSED
    troubled.save()
    closed_at = AS_OF + dt.timedelta(days=1)
    _, report = run(as_of=closed_at)

    assert not open_flags().exists()
    assert set(Flag.objects.values_list("resolved_at", flat=True)) == {closed_at}
    assert dict(report.resolved) == dict.fromkeys(ALL_RULES, 1)


def test_closing_a_family_resolves_its_flags_in_a_run_for_that_family_too(troubled):
    run()
    troubled.status = FamilyStatus.CLOSED
    troubled.save()

    run(families=[troubled], as_of=AS_OF + dt.timedelta(days=1))

    assert not open_flags().exists()


def test_a_run_of_one_rule_neither_opens_nor_resolves_the_other_rules_flags(troubled, practitioner):
    run(rules=["no_lead_professional", "missing_family_details"])
    assert set(open_flags().values_list("rule", flat=True)) == {"no_lead_professional", "missing_family_details"}

    troubled.lead_professional = practitioner  # would resolve no_lead_professional
    troubled.save()
    _, report = run(rules=["was_not_brought"], as_of=AS_OF + dt.timedelta(hours=1))

    assert set(open_flags().values_list("rule", flat=True)) == {
        "no_lead_professional",
        "missing_family_details",
        "was_not_brought",
    }
    assert set(report.opened) | set(report.kept) | set(report.resolved) == {"was_not_brought"}


def test_a_run_for_one_family_leaves_other_families_alone(troubled, team, practitioner):
    other = FamilyFactory(team=team, lead_professional=None)
    run(rules=["no_lead_professional"])
    assert open_flags(family=other).count() == 1

    other.lead_professional = practitioner
    other.save()
    newcomer = FamilyFactory(team=team, lead_professional=None)
    _, report = run(rules=["no_lead_professional"], families=[troubled], as_of=AS_OF + dt.timedelta(hours=1))

    assert report.families == 1
    assert open_flags(family=other).count() == 1  # not resolved: not evaluated
    assert not open_flags(family=newcomer).exists()  # not opened: not evaluated
    assert open_flags(family=troubled).count() == 1


def test_check_chunk_evaluates_only_the_families_it_is_given(troubled, team):
    other = FamilyFactory(team=team, lead_professional=None)

    report = check_chunk(chunk=ChunkSpec(ids=[other.pk]), as_of=AS_OF)

    assert report.families == 1
    assert set(open_flags().values_list("family_id", flat=True)) == {other.pk}


def test_the_run_is_recorded_with_its_counts(troubled):
    run_, report = run()

    run_.refresh_from_db()
    assert run_.started_at == AS_OF
    assert run_.finished_at is not None
    assert (run_.chunks, run_.chunks_done, run_.families) == (1, 1, 1)
    assert run_.counts == report.to_dict()
    assert run_.counts["opened"] == dict.fromkeys(ALL_RULES, 1)


# --- chunks -------------------------------------------------------------------------------------

_refs = itertools.count()


def bulk_families(team, n: int, *, agencies, wnb_per_child: int = 0, children: int = 1, no_access: int = 0, done=0):
    """`n` families made with bulk_create, varied so each rule fires on some of them."""
    families = Family.objects.bulk_create(
        Family(
            reference=f"SG-B{next(_refs):07d}",
            name=f"Bulk family {i}",
            team=team,
            lead_professional=None,
            significant_adults_confirmed=i % 5 == 0,
        )
        for i in range(n)
    )
    members = []
    for i, f in enumerate(families):
        members += [
            Member(family=f, given_name=f"Child{c}", family_name=f"Bulk{i}", role="child") for c in range(children)
        ]
        if i % 3:
            members.append(
                Member(
                    family=f, given_name="Mum", family_name=f"Bulk{i}", role="mother", date_of_birth=dt.date(1990, 1, 1)
                )
            )
        if i % 4 == 0:
            members.append(
                Member(family=f, given_name="Dad", family_name=f"Bulk{i}", role="father", lives_in_household=False)
            )
    members = Member.objects.bulk_create(members)
    appts = [
        Appointment(
            member=m,
            family_id=m.family_id,
            for_child=True,
            agency=agencies[k % len(agencies)],
            kind="health_review",
            scheduled_for=day_before(3 + 11 * k),
            status=WNB,
        )
        for m in members
        if m.role == "child"
        for k in range(wnb_per_child)
    ]
    Appointment.objects.bulk_create(appts)
    Visit.objects.bulk_create(
        Visit(
            family=f,
            agency=team.agency,
            planned=True,
            purpose="Review",
            expected_outcome="Plan agreed",
            scheduled_for=day_before(2 + 7 * k),
            status=VisitStatus.NO_ACCESS if k < no_access else VisitStatus.COMPLETED,
        )
        for f in families
        for k in range(no_access + done)
    )
    return families


def test_a_chunked_run_gives_the_same_flags_as_one_chunk(team, council, health_agency):
    families = bulk_families(team, 250, agencies=[health_agency, council])
    # Vary the contents so every rule fires on some families and not on others.
    for i, f in enumerate(families):
        if i % 7 == 0:
            child = f.members.get(role="child")
            appointment(child, 10, WNB, agency=health_agency)
            appointment(child, 30, WNB, agency=council if i % 2 else health_agency)
        if i % 6 == 0:
            for days in (5, 15, 25):
                visit(f, days, VisitStatus.NO_ACCESS)
    FamilyFactory(team=team, status=FamilyStatus.CLOSED, lead_professional=None)

    with transaction.atomic():
        cfg = CheckSettings.load()
        cfg.chunk_size = 100
        cfg.save()
        chunked_run, chunked = run()
        in_chunks = snapshot()
        chunked_run.refresh_from_db()
        transaction.set_rollback(True)

    assert (chunked.chunks, chunked_run.chunks, chunked_run.chunks_done) == (3, 3, 3)
    assert chunked.families == chunked_run.families == 251

    _, whole = run()

    assert whole.chunks == 1
    assert snapshot() == in_chunks
    assert whole.opened == chunked.opened
    assert {rule for _, rule, *_ in in_chunks} == ALL_RULES


@pytest.mark.parametrize("size", [1, 2, 3, 7, 100])
def test_a_full_run_is_planned_as_consecutive_id_ranges_of_the_chunk_size(team, size):
    """Every family in exactly one chunk, closed ones too, `size` families a chunk (the last fewer),
    whatever gaps the ids have."""
    from escalation.services.checks import plan_full

    families = [FamilyFactory(team=team, status="closed" if i % 3 == 0 else "open") for i in range(8)]
    Family.objects.filter(pk__in=[families[2].pk, families[5].pk]).delete()  # gaps in the ids
    ids = list(Family.objects.order_by("id").values_list("id", flat=True))
    chunks = plan_full(chunk_size=size)
    expected = [(ids[i], ids[min(i + size, len(ids)) - 1]) for i in range(0, len(ids), size)]
    assert [(c.lo, c.hi) for c in chunks] == expected
    assert all(c.ids is None for c in chunks)


def test_a_full_run_of_no_families_has_no_chunks(db):
    from escalation.services.checks import plan_full

    assert plan_full(chunk_size=100) == []


def test_the_chunk_size_cannot_be_set_below_100():
    cfg = CheckSettings.load()
    cfg.chunk_size = 99

    with pytest.raises(ValidationError) as err:
        cfg.full_clean()

    assert "chunk_size" in err.value.message_dict


# Measured: savepoints included; a first run opens flags and raises prompts, a second keeps and refreshes.
QUERIES_PER_CHUNK = 27  # incl. SET LOCAL max_parallel_workers_per_gather
QUERIES_PER_CHUNK_AGAIN = 22  # + SET LOCAL, + reading the flags found again


def test_queries_per_chunk_do_not_grow_with_the_chunks_contents(team, council, health_agency, manager):
    agencies = [health_agency, council, AgencyFactory(name="Riverside GP Practice", kind="gp")]
    small = bulk_families(team, 5, agencies=agencies[:2], wnb_per_child=2, no_access=3)
    large = bulk_families(team, 50, agencies=agencies, wnb_per_child=6, children=3, no_access=4, done=6)
    for f in large:
        MemberFactory(family=f, role="grandparent", date_of_birth=None)
    CheckSettings.load()  # the settings row exists, as it does after the first run

    with CaptureQueriesContext(connection) as first:
        small_report = check_chunk(chunk=ChunkSpec(ids=[f.pk for f in small]), as_of=AS_OF)
    with CaptureQueriesContext(connection) as second:
        large_report = check_chunk(chunk=ChunkSpec(ids=[f.pk for f in large]), as_of=AS_OF)

    # Both chunks took the same paths: every rule opened flags and prompts were raised.
    assert set(small_report.opened) == set(large_report.opened) == ALL_RULES
    assert sum(large_report.opened.values()) >= 10 * sum(small_report.opened.values())
    assert len(second.captured_queries) == len(first.captured_queries)
    assert len(first.captured_queries) <= QUERIES_PER_CHUNK, [q["sql"][:120] for q in first.captured_queries]

    # Running again (keeping and refreshing flags) is as cheap for the large chunk as for the small.
    # One more WNB for every child: both chunks refresh flags (new evidence) and keep others unchanged.
    Appointment.objects.bulk_create(
        Appointment(
            member=m,
            family_id=m.family_id,
            for_child=True,
            agency=health_agency,
            kind="gp",
            scheduled_for=day_before(1),
            status=WNB,
        )
        for m in Member.objects.filter(family__in=small + large, role="child")
    )
    with CaptureQueriesContext(connection) as again_small:
        check_chunk(chunk=ChunkSpec(ids=[f.pk for f in small]), as_of=AS_OF + dt.timedelta(hours=1))
    with CaptureQueriesContext(connection) as again_large:
        check_chunk(chunk=ChunkSpec(ids=[f.pk for f in large]), as_of=AS_OF + dt.timedelta(hours=1))
    assert len(again_large.captured_queries) == len(again_small.captured_queries)
    assert len(again_small.captured_queries) <= QUERIES_PER_CHUNK_AGAIN


# --- incremental --------------------------------------------------------------------------------


def test_an_incremental_run_re_evaluates_only_families_changed_since_the_last_run_started(team, health_agency):
    changed = FamilyFactory(team=team, lead_professional=None)
    unchanged = FamilyFactory(team=team, lead_professional=None)
    changed_child = MemberFactory(family=changed, role="child")
    unchanged_child = MemberFactory(family=unchanged, role="child")
    run(kind=CheckRunKind.FULL)  # unrestricted: only such a run sets the incremental starting point
    Family.objects.update(updated_at=AS_OF - dt.timedelta(days=1))

    for child in (changed_child, unchanged_child):
        appointment(child, 5, WNB, agency=health_agency)
        appointment(child, 6, WNB, agency=health_agency)
    Family.objects.filter(pk=changed.pk).update(updated_at=AS_OF + dt.timedelta(minutes=5))
    _, report = run(rules=["was_not_brought"], incremental=True, as_of=AS_OF + dt.timedelta(hours=1))

    assert report.families == 1
    assert list(open_flags(rule="was_not_brought").values_list("family_id", flat=True)) == [changed.pk]

    _, full = run(rules=["was_not_brought"], as_of=AS_OF + dt.timedelta(hours=2))
    assert full.families == 2
    assert set(open_flags(rule="was_not_brought").values_list("family_id", flat=True)) == {changed.pk, unchanged.pk}


def test_an_incremental_run_includes_a_family_changed_exactly_at_the_last_runs_safe_point(team, practitioner):
    """The safe point is the last run's start less the overlap margin (no other transaction open)."""
    at_start = FamilyFactory(team=team, lead_professional=practitioner)
    just_before = FamilyFactory(team=team, lead_professional=practitioner)
    run()
    safe_point = AS_OF - dt.timedelta(seconds=CheckSettings.load().incremental_overlap_seconds)
    Family.objects.filter(pk=at_start.pk).update(lead_professional=None, updated_at=safe_point)
    Family.objects.filter(pk=just_before.pk).update(
        lead_professional=None, updated_at=safe_point - dt.timedelta(microseconds=1)
    )

    _, report = run(rules=["no_lead_professional"], incremental=True, as_of=AS_OF + dt.timedelta(hours=1))

    assert report.families == 1
    assert list(open_flags(rule="no_lead_professional").values_list("family_id", flat=True)) == [at_start.pk]


def test_a_recorded_appointment_puts_the_family_in_the_next_incremental_run(
    family, child, practitioner, health_agency, team
):
    bystander = FamilyFactory(team=team, lead_professional=None)
    run()
    Family.objects.update(updated_at=AS_OF - dt.timedelta(days=1))

    for days in (3, 4):
        appointment_record(
            actor=practitioner,
            member=child,
            agency=health_agency,
            kind="health_review",
            status=WNB,
            scheduled_for=day_before(days),
        )
    _, report = run(rules=["was_not_brought", "no_lead_professional"], incremental=True, as_of=AS_OF + dt.timedelta(1))

    assert report.families == 1
    assert open_flags(rule="was_not_brought", family=family).exists()
    assert open_flags(family=bystander, rule="no_lead_professional").count() == 1  # first run's, untouched


def test_the_first_incremental_run_with_no_previous_run_checks_every_family(team):
    FamilyFactory.create_batch(3, team=team, lead_professional=None)

    _, report = run(rules=["no_lead_professional"], incremental=True)

    assert report.families == 3
    assert open_flags().count() == 3


def test_an_unfinished_run_does_not_move_the_incremental_starting_point(team, practitioner):
    family = FamilyFactory(team=team, lead_professional=practitioner)
    run(rules=["no_lead_professional"])  # finished, started at AS_OF
    CheckRun.objects.create(kind=CheckRunKind.FULL, started_at=AS_OF + dt.timedelta(days=1))  # never finished
    Family.objects.filter(pk=family.pk).update(lead_professional=None, updated_at=AS_OF + dt.timedelta(hours=1))

    _, report = run(rules=["no_lead_professional"], incremental=True, as_of=AS_OF + dt.timedelta(days=2))

    assert report.families == 1
    assert open_flags(family=family).exists()


def test_a_run_for_one_family_does_not_hide_other_families_changes_from_the_next_incremental_run(team, practitioner):
    changed = FamilyFactory(team=team, lead_professional=practitioner)
    other = FamilyFactory(team=team, lead_professional=practitioner)
    run(rules=["no_lead_professional"], kind=CheckRunKind.FULL)  # the nightly run, at AS_OF
    Family.objects.update(updated_at=AS_OF - dt.timedelta(days=1))
    # The lead professional leaves just after the nightly run.
    Family.objects.filter(pk=changed.pk).update(lead_professional=None, updated_at=AS_OF + dt.timedelta(hours=1))
    run(rules=["no_lead_professional"], families=[other], as_of=AS_OF + dt.timedelta(hours=2))  # someone's --family

    _, report = run(rules=["no_lead_professional"], incremental=True, as_of=AS_OF + dt.timedelta(hours=3))

    assert report.families >= 1
    assert open_flags(family=changed).exists()


def test_a_flag_rising_to_high_again_does_not_duplicate_an_open_team_manager_prompt(
    family, child, health_agency, council, manager
):
    appointment(child, 10, WNB, agency=health_agency)
    appointment(child, 20, WNB, agency=health_agency)
    critical = appointment(child, 5, WNB, agency=council, critical=True)
    run(rules=["was_not_brought"])  # high: a prompt to the team manager
    critical.status = AppointmentStatus.ATTENDED  # corrected: the child was brought after all
    critical.save()
    run(rules=["was_not_brought"], as_of=AS_OF + dt.timedelta(hours=1))  # medium
    critical.status = WNB  # corrected back
    critical.save()

    run(rules=["was_not_brought"], as_of=AS_OF + dt.timedelta(hours=2))  # high again

    flag = open_flags(rule="was_not_brought").get()
    assert flag.severity == "high"
    active = EscalationPrompt.objects.filter(flag=flag, level="team_manager", status__in=["open", "acknowledged"])
    assert active.count() == 1
