"""Visit and appointment rules, in the service and (where it must always hold) in the database."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from audit.models import AuditEvent
from cases.services import member_update
from cases.tests.factories import MemberFactory
from visits.models import Appointment, Visit
from visits.services import appointment_record, appointment_update, visit_log, visit_update
from visits.tests.factories import AppointmentFactory, VisitFactory

pytestmark = pytest.mark.django_db
WHEN = timezone.now() - dt.timedelta(days=1)


def test_planned_visit_needs_purpose_and_expected_outcome(practitioner, family):
    with pytest.raises(ValidationError) as err:
        visit_log(actor=practitioner, family=family, scheduled_for=WHEN, planned=True)
    assert set(err.value.message_dict) == {"purpose", "expected_outcome"}
    assert not Visit.objects.exists()


def test_planned_visit_constraint_holds_in_the_database(family):
    with pytest.raises(IntegrityError), transaction.atomic():
        Visit.objects.create(family=family, agency=family.team.agency, planned=True, scheduled_for=WHEN)


def test_unplanned_visit_needs_no_purpose(practitioner, family):
    visit = visit_log(actor=practitioner, family=family, scheduled_for=WHEN, planned=False, status="no_access")
    assert visit.agency == practitioner.agency
    assert AuditEvent.objects.filter(model="visits.visit", object_id=str(visit.pk), action="create").exists()


def test_children_seen_alone_must_be_seen_and_be_children_of_the_family(practitioner, family, child, mother):
    kwargs = dict(actor=practitioner, family=family, scheduled_for=WHEN, purpose="p", expected_outcome="o")
    with pytest.raises(ValidationError) as err:
        visit_log(**kwargs, children_seen=[], children_seen_alone=[child])
    assert "children_seen_alone" in err.value.message_dict
    with pytest.raises(ValidationError) as err:
        visit_log(**kwargs, children_seen=[mother])
    assert "children_seen" in err.value.message_dict
    stranger = MemberFactory(role="child")
    with pytest.raises(ValidationError):
        visit_log(**kwargs, children_seen=[stranger])
    visit = visit_log(**kwargs, children_seen=[child], children_seen_alone=[child], voice_of_child="Likes school")
    assert list(visit.children_seen_alone.all()) == [child]


def test_visit_update_cannot_blank_a_planned_visits_purpose(practitioner, family):
    visit = VisitFactory(family=family)
    with pytest.raises(ValidationError):
        visit_update(actor=practitioner, visit=visit, data={"purpose": ""})
    visit.refresh_from_db()
    assert visit.purpose


def test_visit_update_records_previous_values(practitioner, family):
    visit = VisitFactory(family=family, status="scheduled")
    visit_update(actor=practitioner, visit=visit, data={"status": "no_access"})
    event = AuditEvent.objects.get(model="visits.visit", action="change")
    assert event.changes == {"status": {"from": "scheduled", "to": "no_access"}}


def test_child_missed_appointment_is_was_not_brought_never_did_not_attend(practitioner, child, health_agency):
    kwargs = dict(actor=practitioner, member=child, agency=health_agency, kind="health_review", scheduled_for=WHEN)
    with pytest.raises(ValidationError) as err:
        appointment_record(**kwargs, status="did_not_attend")
    assert "was_not_brought" in str(err.value.message_dict["status"])
    appointment = appointment_record(**kwargs, status="was_not_brought")
    assert appointment.for_child and appointment.family_id == child.family_id


def test_adult_cannot_be_was_not_brought(practitioner, mother, health_agency):
    with pytest.raises(ValidationError):
        appointment_record(
            actor=practitioner,
            member=mother,
            agency=health_agency,
            kind="gp",
            scheduled_for=WHEN,
            status="was_not_brought",
        )
    appointment_record(
        actor=practitioner, member=mother, agency=health_agency, kind="gp", scheduled_for=WHEN, status="did_not_attend"
    )


@pytest.mark.parametrize(("for_child", "status"), [(True, "did_not_attend"), (False, "was_not_brought")])
def test_missed_appointment_words_are_database_constraints(child, health_agency, for_child, status):
    with pytest.raises(IntegrityError), transaction.atomic():
        Appointment.objects.create(
            member=child,
            family=child.family,
            for_child=for_child,
            agency=health_agency,
            kind="gp",
            scheduled_for=WHEN,
            status=status,
        )


def test_changing_a_members_role_keeps_appointments_in_step(practitioner, family):
    young_adult = MemberFactory(family=family, role="child")
    AppointmentFactory(member=young_adult, status="attended")
    member_update(actor=practitioner, member=young_adult, data={"role": "other_adult"})
    assert Appointment.objects.get(member=young_adult).for_child is False


def test_role_change_refused_when_it_would_break_the_words(practitioner, family):
    kid = MemberFactory(family=family, role="child")
    AppointmentFactory(member=kid, status="was_not_brought")
    with pytest.raises(ValidationError):
        member_update(actor=practitioner, member=kid, data={"role": "other_adult"})
    kid.refresh_from_db()
    assert kid.role == "child"


def test_partner_records_for_own_agency_only(partner, share, child, council):
    with pytest.raises(ValidationError):
        appointment_record(actor=partner, member=child, agency=council, kind="gp", scheduled_for=WHEN)
    appointment = appointment_record(actor=partner, member=child, kind="health_review", scheduled_for=WHEN)
    assert appointment.agency == partner.agency


def test_partner_edits_only_its_own_agencys_records(partner, share, child, practitioner, council):
    theirs = AppointmentFactory(member=child, agency=partner.agency, status="booked")
    ours = AppointmentFactory(member=child, agency=council, status="booked")
    appointment_update(actor=partner, appointment=theirs, data={"status": "was_not_brought"})
    with pytest.raises(PermissionDenied):
        appointment_update(actor=partner, appointment=ours, data={"status": "attended"})


def test_other_team_cannot_record(other_team_user, family, child):
    with pytest.raises(PermissionDenied):
        visit_log(actor=other_team_user, family=family, scheduled_for=WHEN, planned=False)


def test_recording_touches_the_family_for_incremental_sync(practitioner, family, child, health_agency):
    before = family.updated_at
    appointment_record(actor=practitioner, member=child, agency=health_agency, kind="gp", scheduled_for=WHEN)
    family.refresh_from_db()
    assert family.updated_at > before
