"""`manage.py seed_demo`: deterministic per seed, within the model's rules, showing the failure modes."""

from __future__ import annotations

import datetime as dt
import hashlib
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.db.models import Count, F, Q

from cases import seed as seed_module
from cases.models import Family, InformationGap, LeadProfessionalAssignment, Member, Relationship, User
from cases.seed import DemoDataExists, seed_demo
from referrals.models import Referral
from visits.models import Appointment, Visit

pytestmark = pytest.mark.django_db

AS_OF = dt.date(2025, 6, 30)
FAMILIES = 30
SEED = 7
PREFIX = f"DEMO-{SEED}-"


def families():
    return Family.objects.filter(reference__startswith=PREFIX)


def of_seed(model):
    """The seed's rows only: the assertions hold whatever else the database holds."""
    return model.objects.filter(family__reference__startswith=PREFIX)


def digest(seed: int) -> str:
    """Everything that must repeat for a seed: names, dates, statuses, in a stable order."""
    prefix = f"DEMO-{seed}-"
    h = hashlib.sha256()
    queries = [
        Family.objects.filter(reference__startswith=prefix)
        .order_by("reference")
        .values_list(
            "reference",
            "name",
            "address",
            "level",
            "status",
            "created_at",
            "lead_professional__username",
            "significant_adults_confirmed",
        ),
        Member.objects.filter(family__reference__startswith=prefix)
        .order_by("family__reference", "id")
        .values_list(
            "given_name",
            "family_name",
            "aliases",
            "role",
            "date_of_birth",
            "lives_in_household",
            "contact_phone",
            "contact_address",
            "additional_needs",
        ),
        Visit.objects.filter(family__reference__startswith=prefix)
        .order_by("family__reference", "id")
        .values_list("scheduled_for", "planned", "purpose", "status", "practitioner__username"),
        Appointment.objects.filter(family__reference__startswith=prefix)
        .order_by("family__reference", "id")
        .values_list("member__given_name", "scheduled_for", "agency__name", "kind", "critical", "status"),
        Referral.objects.filter(family__reference__startswith=prefix)
        .order_by("family__reference", "id")
        .values_list("received_at", "source", "referrer_name", "concerns", "decision", "decision_at"),
        InformationGap.objects.filter(family__reference__startswith=prefix)
        .order_by("family__reference", "id")
        .values_list("subject", "reason", "revisit_on"),
    ]
    for query in queries:
        for row in query:
            h.update(repr(row).encode())
    return h.hexdigest()


def test_same_seed_gives_the_same_data_whatever_the_batch_size():
    first = seed_demo(families=FAMILIES, seed=7, as_of=AS_OF)
    before = digest(7)
    Family.objects.filter(reference__startswith="DEMO-7-").delete()

    second = seed_demo(families=FAMILIES, seed=7, as_of=AS_OF, batch_size=7)  # staff are reused

    assert digest(7) == before
    assert second == first
    assert first["families"] == FAMILIES
    assert first["visits"] + first["appointments"] > 10 * FAMILIES


def test_another_seed_gives_other_data_alongside():
    seed_demo(families=10, seed=7, as_of=AS_OF)
    seed_demo(families=10, seed=8, as_of=AS_OF)

    assert digest(7) != digest(8)
    assert Family.objects.filter(reference__startswith="DEMO-8-").count() == 10


def test_counts_match_the_database():
    counts = seed_demo(families=FAMILIES, seed=SEED, as_of=AS_OF)

    assert counts["families"] == families().count() == FAMILIES
    assert counts["members"] == of_seed(Member).count()
    assert counts["relationships"] == of_seed(Relationship).count()
    assert counts["visits"] == of_seed(Visit).count()
    assert counts["appointments"] == of_seed(Appointment).count()
    assert counts["referrals"] == of_seed(Referral).count()
    assert counts["gaps"] == of_seed(InformationGap).count()
    assert counts["lead_assignments"] == of_seed(LeadProfessionalAssignment).count()
    seen = Visit.children_seen.through.objects.filter(visit__family__reference__startswith=PREFIX)
    assert counts["children_seen"] == seen.count()
    assert counts["users"] == User.objects.filter(username__startswith=f"demo{SEED}-").count()


def test_data_keeps_the_rules():
    seed_demo(families=FAMILIES, seed=SEED, as_of=AS_OF)
    anchor = dt.datetime.combine(AS_OF, dt.time(), tzinfo=dt.UTC)
    appointments = of_seed(Appointment)

    # Children are not brought; adults do not attend. Never the other way round.
    assert appointments.filter(status="was_not_brought").exists()
    assert appointments.filter(status="did_not_attend").exists()
    assert not appointments.filter(member__role="child", status="did_not_attend").exists()
    assert not appointments.filter(~Q(member__role="child"), status="was_not_brought").exists()
    assert not appointments.exclude(family=F("member__family")).exists()
    assert not appointments.filter(for_child=True).exclude(member__role="child").exists()
    assert not appointments.filter(for_child=False, member__role="child").exists()
    # Planned visits have a purpose and an expected outcome; unplanned ones exist too.
    visits = of_seed(Visit)
    assert not visits.filter(planned=True).filter(Q(purpose="") | Q(expected_outcome="")).exists()
    assert 0.1 < visits.filter(planned=False).count() / visits.count() < 0.3
    # Booked and scheduled items are in the next four weeks; the past has outcomes.
    assert appointments.filter(status="booked").exists()
    assert not appointments.filter(status="booked", scheduled_for__lt=anchor - dt.timedelta(days=3)).exists()
    assert not appointments.exclude(status="booked").filter(scheduled_for__gt=anchor).exists()
    assert not visits.filter(scheduled_for__gt=anchor + dt.timedelta(days=29)).exists()
    assert not visits.filter(scheduled_for__lt=anchor - dt.timedelta(days=560)).exists()
    assert visits.filter(status="completed").count() > visits.count() / 2
    # Relationships stay within the family; every lead professional has a current history row.
    assert not of_seed(Relationship).exclude(from_member__family=F("family")).exists()
    assert not of_seed(Relationship).exclude(to_member__family=F("family")).exists()
    for family in families().filter(lead_professional__isnull=False):
        current = LeadProfessionalAssignment.objects.get(family=family, ended_at__isnull=True)
        assert current.user_id == family.lead_professional_id
        assert family.lead_professional.team_id == family.team_id
    # Every family has children; decided referrals have a decision date.
    assert not families().exclude(members__role="child").exists()
    assert not of_seed(Referral).exclude(decision="").filter(decision_at__isnull=True).exists()
    assert not User.objects.filter(username__startswith=f"demo{SEED}-").exclude(password__startswith="!").exists()


def test_archetypes_and_failure_modes_are_present():
    seed_demo(families=FAMILIES, seed=SEED, as_of=AS_OF)
    members = of_seed(Member)
    recent = dt.datetime.combine(AS_OF - dt.timedelta(days=90), dt.time(), tzinfo=dt.UTC)

    assert members.filter(role="father", lives_in_household=False).exclude(contact_phone="").exists()
    assert members.filter(role="partner", lives_in_household=False).exists()
    assert members.filter(role="grandparent", parental_responsibility=True).exists()
    assert members.filter(role="step_parent").exists()
    assert members.filter(role="child").exclude(additional_needs="").exists()
    assert members.filter(role="child").exclude(aliases=[]).exists()
    assert of_seed(Appointment).filter(critical=True, member__role="child").exists()
    # A lone mother with no father recorded at all, and families with no lead professional.
    assert families().filter(members__role="mother").exclude(members__role="father").exists()
    assert families().filter(status="open", lead_professional__isnull=True).exists()
    assert families().filter(significant_adults_confirmed=False).exists()
    assert of_seed(InformationGap).exists()
    # A family whose recent planned visits mostly fail; a child not brought to two agencies lately.
    failing = (
        of_seed(Visit)
        .filter(planned=True, scheduled_for__gte=recent)
        .filter(status__in=["no_access", "cancelled_by_family", "cancelled_late", "rescheduled"])
        .values("family")
        .annotate(n=Count("id"))
        .filter(n__gte=3)
    )
    assert failing.exists()
    not_brought = of_seed(Appointment).filter(status="was_not_brought", scheduled_for__gte=recent)
    assert any(
        not_brought.filter(member_id=member_id).values("agency").distinct().count() >= 2
        for member_id in not_brought.values_list("member_id", flat=True)
    )
    # Anonymous referrals with and without the referrer's details; a supported public referral.
    referrals = of_seed(Referral)
    assert referrals.filter(source="anonymous", referrer_name="").exists()
    assert referrals.filter(source="anonymous").exclude(referrer_name="").exists()
    assert referrals.filter(source="public").exclude(supporting_professional="").exists()
    assert referrals.filter(source="professional").exists()


def test_second_run_with_the_same_seed_is_refused():
    seed_demo(families=5, seed=SEED, as_of=AS_OF)

    with pytest.raises(DemoDataExists, match="demo data for seed 7 already present"):
        seed_demo(families=5, seed=7, as_of=AS_OF)
    with pytest.raises(CommandError, match="demo data for seed 7 already present"):
        call_command("seed_demo", families=5, seed=7, stdout=StringIO())
    assert families().count() == 5


def test_command_prints_a_one_line_summary():
    out = StringIO()

    call_command("seed_demo", "--families", "5", "--seed", "11", "--as-of", "2025-06-30", stdout=out)

    lines = out.getvalue().strip().splitlines()
    assert len(lines) == 1
    summary = lines[0]
    assert "seed 11" in summary and "5 families" in summary
    for word in ("members", "visits", "appointments", "referrals", " s"):
        assert word in summary
    assert Family.objects.filter(reference__startswith="DEMO-11-").count() == 5


def test_command_rejects_a_bad_count():
    with pytest.raises(CommandError, match="at least 1"):
        call_command("seed_demo", families=0, stdout=StringIO())


def test_portable_path_writes_the_same_data(monkeypatch):
    """Without PostgreSQL's COPY (SQLite in development) the rows go through bulk_create."""
    seed_demo(families=10, seed=SEED, as_of=AS_OF)
    expected = digest(SEED)
    families().delete()
    monkeypatch.setattr(seed_module, "_has_copy", lambda connection: False)

    counts = seed_demo(families=10, seed=SEED, as_of=AS_OF)

    assert digest(SEED) == expected
    assert counts["appointments"] == of_seed(Appointment).count()
