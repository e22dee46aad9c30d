"""Every write that changes a versioned row raises its version, and an update writes only the
fields it changes (issue 14, item 1): a copy of the record read before someone else's change can
no longer write their change back."""

from __future__ import annotations

import pytest
from django.utils import timezone

from cases import services
from cases.models import Family, Member
from referrals.models import Referral
from visits.models import Appointment, Visit

pytestmark = pytest.mark.django_db


def test_setting_the_lead_professional_raises_the_familys_version(manager, family, teammate):
    before = Family.objects.get(pk=family.pk).version
    services.lead_professional_set(actor=manager, family=family, user=teammate)
    assert Family.objects.get(pk=family.pk).version == before + 1


def test_an_update_of_a_stale_copy_keeps_fields_it_did_not_change(manager, family, teammate, practitioner):
    stale = Family.objects.get(pk=family.pk)  # read before the lead changes
    services.lead_professional_set(actor=manager, family=family, user=teammate)

    services.family_update(actor=practitioner, family=stale, data={"name": "Smith-Jones family"})

    saved = Family.objects.get(pk=family.pk)
    assert saved.name == "Smith-Jones family"
    assert saved.lead_professional == teammate


def test_a_member_update_from_a_stale_copy_keeps_others_changes(practitioner, teammate, child):
    stale = Member.objects.get(pk=child.pk)
    services.member_update(actor=teammate, member=Member.objects.get(pk=child.pk), data={"school": "Oak Primary"})
    services.member_update(actor=practitioner, member=stale, data={"given_name": "Kye"})
    saved = Member.objects.get(pk=child.pk)
    assert (saved.given_name, saved.school, saved.version) == ("Kye", "Oak Primary", 3)


def test_changing_a_members_role_raises_the_version_of_their_appointments(practitioner, mother, council):
    from visits.services import appointment_record

    appointment = appointment_record(
        actor=practitioner, member=mother, agency=council, kind="gp", scheduled_for=timezone.now()
    )
    before = Appointment.objects.get(pk=appointment.pk).version
    services.member_update(actor=practitioner, member=mother, data={"role": "child"})
    saved = Appointment.objects.get(pk=appointment.pk)
    assert saved.for_child is True
    assert saved.version == before + 1


def test_changing_who_was_seen_on_a_visit_raises_its_version(practitioner, family, child):
    from visits.services import visit_log, visit_update

    visit = visit_log(
        actor=practitioner,
        family=family,
        scheduled_for=timezone.now(),
        planned=True,
        purpose="Check in",
        expected_outcome="Plan agreed",
    )
    before = Visit.objects.get(pk=visit.pk).version
    visit_update(actor=practitioner, visit=visit, data={}, children_seen=[child])
    assert Visit.objects.get(pk=visit.pk).version == before + 1


def test_a_referral_decision_from_a_stale_copy_keeps_its_decision_time(practitioner, family):
    from referrals.services import referral_create, referral_update

    referral = referral_create(
        actor=practitioner,
        family=family,
        received_at=timezone.now(),
        source="professional",
        concerns=["neglect"],
        summary="School worried about attendance",
    )
    stale = Referral.objects.get(pk=referral.pk)
    decided = referral_update(actor=practitioner, referral=referral, data={"decision": "early_help"})
    decided_at = Referral.objects.get(pk=referral.pk).decision_at
    assert decided_at is not None

    referral_update(actor=practitioner, referral=stale, data={"decision": "early_help", "summary": "More"})
    saved = Referral.objects.get(pk=referral.pk)
    assert saved.decision_at == decided_at  # the same decision again is not a new decision
    assert saved.version == decided.version + 1


def test_family_touch_does_not_raise_the_familys_version(practitioner, family):
    before = Family.objects.get(pk=family.pk).version
    services.member_create(actor=practitioner, family=family, given_name="Mia", family_name="Smith", role="child")
    assert Family.objects.get(pk=family.pk).version == before
