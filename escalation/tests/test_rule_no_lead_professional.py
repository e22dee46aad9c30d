"""`no_lead_professional` (DESIGN 4): an open family has no lead professional. Medium."""

from __future__ import annotations

import datetime as dt

import pytest

from cases.models import FamilyStatus
from cases.tests.factories import FamilyFactory

from .helpers import AS_OF, open_flags, run

pytestmark = pytest.mark.django_db

RULE = "no_lead_professional"


def test_an_open_family_without_a_lead_professional_raises_a_medium_flag(team):
    family = FamilyFactory(team=team, name="Jones family", lead_professional=None)

    run(rules=[RULE])

    [flag] = open_flags(rule=RULE)
    assert (flag.family, flag.member, flag.severity) == (family, None, "medium")
    assert flag.detail == "The Jones family has no lead professional: nobody is named to coordinate the work."
    assert flag.evidence == {"team": team.name}


def test_a_family_with_a_lead_professional_raises_no_flag(family):
    run(rules=[RULE])

    assert not open_flags(rule=RULE).exists()


def test_a_closed_family_without_a_lead_professional_raises_no_flag(team):
    FamilyFactory(team=team, lead_professional=None, status=FamilyStatus.CLOSED)

    run(rules=[RULE])

    assert not open_flags(rule=RULE).exists()


def test_closing_the_family_resolves_its_open_flag(team):
    family = FamilyFactory(team=team, lead_professional=None)
    run(rules=[RULE])
    [flag] = open_flags(rule=RULE)

    family.status = FamilyStatus.CLOSED
    family.save()
    later = AS_OF + dt.timedelta(days=1)
    _, report = run(rules=[RULE], as_of=later)

    flag.refresh_from_db()
    assert (flag.status, flag.resolved_at) == ("resolved", later)
    assert report.resolved[RULE] == 1


def test_naming_a_lead_professional_resolves_the_flag(team, practitioner):
    family = FamilyFactory(team=team, lead_professional=None)
    run(rules=[RULE])

    family.lead_professional = practitioner
    family.save()
    run(rules=[RULE], as_of=AS_OF + dt.timedelta(hours=1))

    assert not open_flags(rule=RULE).exists()
    assert family.flags.get(rule=RULE).status == "resolved"
