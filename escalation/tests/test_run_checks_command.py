"""`manage.py run_checks [--incremental] [--rule CODE ...] [--family ID ...] [--celery]`: runs the checks
now (at the real time) and prints what it opened, kept and resolved per rule, and the prompts."""

from __future__ import annotations

import datetime as dt
import re
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from cases.models import Family
from cases.services import lead_professional_set, member_create
from cases.tests.factories import FamilyFactory
from escalation.models import CheckRun, EscalationPrompt, Flag
from visits.models import AppointmentStatus, VisitStatus
from visits.tests.factories import AppointmentFactory, VisitFactory

pytestmark = pytest.mark.django_db

RULES = ("missing_family_details", "was_not_brought", "engagement_decline", "no_lead_professional")


def run_checks(*args: str) -> str:
    out = StringIO()
    call_command("run_checks", *args, stdout=out)
    return out.getvalue()


def table(output: str) -> dict[str, tuple[int, int, int]]:
    """The per-rule lines: {rule: (opened, kept, resolved)}."""
    rows = re.findall(r"^(\w+)\s+(\d+)\s+(\d+)\s+(\d+)$", output, flags=re.MULTILINE)
    return {rule: (int(o), int(k), int(r)) for rule, o, k, r in rows}


@pytest.fixture
def troubled(family, child, mother, manager, health_agency, council):
    """Every rule fires: two WNBs at two agencies, three planned visits with no access, details
    missing, and no lead professional."""
    now = timezone.now()
    family.lead_professional = None
    family.save()
    for days, agency in ((10, health_agency), (20, council)):
        AppointmentFactory(
            member=child,
            status=AppointmentStatus.WAS_NOT_BROUGHT,
            agency=agency,
            scheduled_for=now - dt.timedelta(days),
        )
    for days in (5, 15, 25):
        VisitFactory(family=family, status=VisitStatus.NO_ACCESS, scheduled_for=now - dt.timedelta(days=days))
    return family


def test_it_prints_opened_kept_and_resolved_per_rule_and_the_prompts_raised(troubled):
    output = run_checks()

    assert "Checked 1 families in 1 chunk(s)" in output
    assert re.search(r"^rule\s+opened\s+kept\s+resolved$", output, flags=re.MULTILINE)
    assert table(output) == dict.fromkeys(RULES, (1, 0, 0))
    assert "Prompts raised: 4; escalated as overdue: 0." in output
    assert Flag.objects.filter(status="open").count() == 4
    assert EscalationPrompt.objects.count() == 4


def test_a_second_run_keeps_everything_and_raises_no_prompts(troubled):
    run_checks()

    output = run_checks()

    assert table(output) == dict.fromkeys(RULES, (0, 1, 0))
    assert "Prompts raised: 0;" in output
    assert Flag.objects.count() == 4


def test_fixed_data_shows_as_resolved(troubled, practitioner, manager):
    run_checks()
    lead_professional_set(actor=manager, family=troubled, user=practitioner)

    output = run_checks()

    assert table(output)["no_lead_professional"] == (0, 0, 1)
    assert table(output)["was_not_brought"] == (0, 1, 0)


def test_rule_option_evaluates_only_that_rule(troubled):
    output = run_checks("--rule", "was_not_brought")

    assert table(output) == {"was_not_brought": (1, 0, 0)}
    assert list(Flag.objects.values_list("rule", flat=True)) == ["was_not_brought"]


def test_rule_option_can_be_repeated(troubled):
    output = run_checks("--rule", "was_not_brought", "--rule", "no_lead_professional")

    assert set(table(output)) == {"was_not_brought", "no_lead_professional"}
    assert set(Flag.objects.values_list("rule", flat=True)) == {"was_not_brought", "no_lead_professional"}


def test_an_unknown_rule_is_refused(troubled):
    with pytest.raises(CommandError):
        run_checks("--rule", "nonsense")

    assert not CheckRun.objects.exists()


def test_family_option_evaluates_only_that_family(troubled, team):
    other = FamilyFactory(team=team, lead_professional=None)

    output = run_checks("--family", str(other.pk))

    assert "Checked 1 families" in output
    assert set(Flag.objects.values_list("family_id", flat=True)) == {other.pk}
    assert table(output)["no_lead_professional"] == (1, 0, 0)
    assert table(output)["was_not_brought"] == (0, 0, 0)


def test_incremental_option_evaluates_only_families_changed_since_the_last_run(troubled, team, manager, practitioner):
    quiet = FamilyFactory(team=team, lead_professional=practitioner, significant_adults_confirmed=True)
    run_checks()
    last = CheckRun.objects.get()
    Family.objects.update(updated_at=last.started_at - dt.timedelta(days=1))
    # The quiet family loses its lead without the family being touched: an incremental run can't know.
    Family.objects.filter(pk=quiet.pk).update(lead_professional=None)
    # The troubled family gets a new member through the service, which marks it changed.
    member_create(actor=manager, family=troubled, given_name="Ava", family_name="Smith", role="child")

    output = run_checks("--incremental")

    assert "Checked 1 families" in output
    assert table(output)["no_lead_professional"] == (0, 1, 0)
    assert not Flag.objects.filter(family=quiet, rule="no_lead_professional").exists()
    assert CheckRun.objects.order_by("-started_at").first().kind == "incremental"

    output = run_checks()
    assert "Checked 2 families" in output
    assert Flag.objects.filter(family=quiet, rule="no_lead_professional", status="open").exists()


def test_the_run_is_recorded(troubled):
    run_checks()

    run = CheckRun.objects.get()
    assert (run.kind, run.chunks, run.chunks_done, run.families) == ("on_demand", 1, 1, 1)
    assert run.finished_at is not None
    assert run.counts["opened"] == dict.fromkeys(RULES, 1)


def test_celery_option_cannot_be_limited_to_a_rule_or_family(troubled):
    with pytest.raises(CommandError):
        run_checks("--celery", "--rule", "was_not_brought")
    with pytest.raises(CommandError):
        run_checks("--celery", "--family", str(troubled.pk))
