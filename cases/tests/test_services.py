"""Case record services: change rules, lead professional history, sharing, gaps, audit."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from audit.models import AuditEvent
from cases.access import visible_families
from cases.models import Family, LeadProfessionalAssignment
from cases.services import (
    family_create,
    family_update,
    gap_record,
    gap_resolve,
    lead_professional_set,
    member_create,
    relationship_create,
    share_create,
    share_end,
)
from cases.tests.factories import MemberFactory, ShareFactory, UserFactory

pytestmark = pytest.mark.django_db


def test_family_defaults_to_the_creators_team(practitioner):
    family = family_create(actor=practitioner, name="Jones family")
    assert family.team == practitioner.team
    assert family.reference.startswith("SG-")


def test_cannot_create_for_another_team(practitioner, other_team_user):
    with pytest.raises(PermissionDenied):
        family_create(actor=practitioner, name="X", team=other_team_user.team)
    assert not Family.objects.exists()


def test_partner_cannot_create_a_family(partner):
    with pytest.raises((PermissionDenied, ValidationError)):
        family_create(actor=partner, name="X")


def test_confirming_significant_adults_stamps_the_time(practitioner, family):
    family_update(actor=practitioner, family=family, data={"significant_adults_confirmed": True})
    family.refresh_from_db()
    assert family.significant_adults_confirmed_at is not None
    event = AuditEvent.objects.get(model="cases.family", action="change")
    assert event.changes["significant_adults_confirmed"] == {"from": False, "to": True}


def test_lead_professional_history_keeps_who_held_it(practitioner, teammate, manager, team):
    family = family_create(actor=manager, name="Lee family")
    lead_professional_set(actor=manager, family=family, user=practitioner)
    lead_professional_set(actor=manager, family=family, user=teammate)
    history = list(LeadProfessionalAssignment.objects.filter(family=family).order_by("started_at", "id"))
    assert [h.user for h in history] == [practitioner, teammate]
    assert history[0].ended_at is not None and history[1].ended_at is None
    lead_professional_set(actor=manager, family=family, user=None)
    assert not LeadProfessionalAssignment.objects.filter(family=family, ended_at__isnull=True).exists()


def test_only_one_current_lead_in_the_database(family, practitioner, teammate):
    LeadProfessionalAssignment.objects.create(family=family, user=practitioner)
    with pytest.raises(IntegrityError), transaction.atomic():
        LeadProfessionalAssignment.objects.create(family=family, user=teammate)


def test_lead_professional_must_be_able_to_see_the_family(manager, family, other_team_user, partner, health_agency):
    with pytest.raises(ValidationError):
        lead_professional_set(actor=manager, family=family, user=other_team_user)
    with pytest.raises(ValidationError):
        lead_professional_set(actor=manager, family=family, user=partner)
    ShareFactory(family=family, agency=health_agency)
    lead_professional_set(actor=manager, family=family, user=partner)  # a health visitor may lead


def test_share_is_current_only_between_its_dates_and_until_ended(practitioner, family, partner, health_agency):
    today = timezone.localdate()
    future = share_create(
        actor=practitioner,
        family=family,
        agency=health_agency,
        purpose="p",
        legal_basis="b",
        starts=today + dt.timedelta(days=1),
        ends=today + dt.timedelta(days=30),
    )
    assert family not in visible_families(partner)
    past = ShareFactory(
        family=family, agency=health_agency, starts=today - dt.timedelta(days=10), ends=today - dt.timedelta(days=1)
    )
    assert family not in visible_families(partner)
    current = share_create(
        actor=practitioner, family=family, agency=health_agency, purpose="p", legal_basis="b", ends=today
    )
    assert family in visible_families(partner)  # ends is the last day of access, inclusive
    share_end(actor=practitioner, share=current)
    assert family not in visible_families(partner)
    assert {future.pk, past.pk, current.pk} == set(family.shares.values_list("pk", flat=True))  # nothing deleted
    assert AuditEvent.objects.filter(model="cases.familyshare", action="delete", object_id=str(current.pk)).exists()


def test_share_needs_purpose_and_legal_basis(practitioner, family, health_agency):
    with pytest.raises(ValidationError) as err:
        share_create(
            actor=practitioner,
            family=family,
            agency=health_agency,
            purpose="",
            legal_basis="",
            ends=timezone.localdate(),
        )
    assert {"purpose", "legal_basis"} <= set(err.value.message_dict)


def test_share_needs_an_end_date(practitioner, family, health_agency):
    """Sharing is explicit and ends: a share with no last day is refused."""
    with pytest.raises(ValidationError) as err:
        share_create(actor=practitioner, family=family, agency=health_agency, purpose="p", legal_basis="b")
    assert "ends" in err.value.message_dict
    assert not family.shares.exists()


def test_absent_father_recorded_with_contact(practitioner, family):
    father = member_create(
        actor=practitioner,
        family=family,
        given_name="Dean",
        family_name="Smith",
        role="father",
        lives_in_household=False,
        contact_phone="07700 900456",
        aliases=["Deano", " "],
    )
    assert father.aliases == ["Deano"]
    assert father.lives_in_household is False


def test_member_bad_role_is_a_field_error(practitioner, family):
    with pytest.raises(ValidationError) as err:
        member_create(actor=practitioner, family=family, given_name="A", family_name="B", role="uncle")
    assert "role" in err.value.message_dict


def test_relationships_within_one_family(practitioner, family, child, mother):
    relationship_create(actor=practitioner, from_member=mother, to_member=child, kind="parent_of")
    with pytest.raises(ValidationError):
        relationship_create(actor=practitioner, from_member=mother, to_member=child, kind="parent_of")
    with pytest.raises(ValidationError):
        relationship_create(actor=practitioner, from_member=child, to_member=mother, kind="parent_of")
    stranger = MemberFactory(role="child")
    with pytest.raises(ValidationError):
        relationship_create(actor=practitioner, from_member=mother, to_member=stranger, kind="parent_of")


def test_gap_recorded_and_resolved(practitioner, family):
    gap = gap_record(
        actor=practitioner,
        family=family,
        subject="father",
        reason="declined",
        revisit_on=timezone.localdate() + dt.timedelta(days=28),
    )
    gap_resolve(actor=practitioner, gap=gap)
    gap.refresh_from_db()
    assert gap.resolved_at is not None


def test_inactive_user_sees_nothing(family, team):
    gone = UserFactory(team=team, agency=team.agency, is_active=False)
    assert not visible_families(gone).exists()
