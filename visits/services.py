"""Logging visits and appointments, by the owning team or by a partner with a current share."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from audit.services import AuditAction, audit_record
from cases.access import can_record_events
from cases.models import Agency, Family, Member, Role, User
from cases.service_utils import ConflictError, audit_create, family_touch, model_update

from . import permissions
from .models import Appointment, AppointmentStatus, Visit

VISIT_FIELDS = (
    "planned",
    "purpose",
    "expected_outcome",
    "purpose_shared_with_family",
    "scheduled_for",
    "status",
    "outcome",
    "next_steps",
    "voice_of_child",
    "home_conditions",
)
APPOINTMENT_FIELDS = ("kind", "scheduled_for", "critical", "status", "notes")


def _require_record(actor: User, family: Family) -> None:
    if not can_record_events(actor, family):
        raise PermissionDenied("You cannot record events for this family.")


# Who may change a record afterwards: one place, visits/permissions.py (issue 14, item 6).
require_visit_edit = permissions.require_visit_edit
require_appointment_edit = permissions.require_appointment_edit


def _clean_children(family: Family, seen: list[Member], alone: list[Member]) -> None:
    errors = {}
    for field, members in (("children_seen", seen), ("children_seen_alone", alone)):
        bad = [m.pk for m in members if m.family_id != family.pk or not m.is_child]
        if bad:
            errors[field] = f"Not children of this family: {bad}."
    if not errors and not {m.pk for m in alone} <= {m.pk for m in seen}:
        errors["children_seen_alone"] = "A child seen alone must also be among the children seen."
    if errors:
        raise ValidationError(errors)


def _validate_visit(visit: Visit) -> None:
    if visit.planned:
        errors = {}
        # Child L (seed 000): a clear purpose and desired outcome for each planned visit.
        if not visit.purpose.strip():
            errors["purpose"] = "A planned visit needs a purpose."
        if not visit.expected_outcome.strip():
            errors["expected_outcome"] = "A planned visit needs an expected outcome."
        if errors:
            raise ValidationError(errors)
    visit.full_clean(exclude=["children_seen", "children_seen_alone"])


@transaction.atomic
def visit_log(
    *,
    actor: User,
    family: Family,
    scheduled_for,
    planned: bool = True,
    children_seen: list[Member] | None = None,
    children_seen_alone: list[Member] | None = None,
    agency: Agency | None = None,
    **fields: Any,
) -> Visit:
    _require_record(actor, family)
    unknown = set(fields) - set(VISIT_FIELDS)
    if unknown:
        raise ValueError(f"Unknown visit fields: {sorted(unknown)}")
    seen, alone = list(children_seen or []), list(children_seen_alone or [])
    _clean_children(family, seen, alone)
    # A visit is the writer's agency's record, never another's (issue 14, item 6).
    own_agency_id = permissions.writers_agency_id(actor, family)
    if agency is not None and agency.pk != own_agency_id:
        raise ValidationError({"agency": "A visit is recorded for your own agency. Leave the agency out."})
    visit = Visit(
        family=family,
        practitioner=actor,
        agency_id=own_agency_id,
        planned=planned,
        scheduled_for=scheduled_for,
        created_by=actor,
        **fields,
    )
    _validate_visit(visit)
    visit.save()
    visit.children_seen.set(seen)
    visit.children_seen_alone.set(alone)
    audit_create(
        actor=actor,
        instance=visit,
        family_id=family.pk,
        fields=("planned", "status", "scheduled_for"),
    )
    family_touch(family.pk)
    return visit


@transaction.atomic
def visit_update(
    *,
    actor: User,
    visit: Visit,
    data: dict[str, Any],
    children_seen: list[Member] | None = None,
    children_seen_alone: list[Member] | None = None,
) -> Visit:
    require_visit_edit(actor, visit.family, visit.agency_id)
    unknown = set(data) - set(VISIT_FIELDS) - {"version"}  # version: the lost-update check in model_update
    if unknown:
        raise ValueError(f"Fields not updatable: {sorted(unknown)}")
    # Validate the visit as it would be after the change, before writing anything.
    candidate = Visit.objects.get(pk=visit.pk)
    for field, value in data.items():
        if field != "version":
            setattr(candidate, field, value)
    _validate_visit(candidate)
    saved_seen, saved_alone = list(visit.children_seen.all()), list(visit.children_seen_alone.all())
    before_seen, before_alone = {m.pk for m in saved_seen}, {m.pk for m in saved_alone}
    seen = saved_seen if children_seen is None else list(children_seen)
    alone = saved_alone if children_seen_alone is None else list(children_seen_alone)
    _clean_children(visit.family, seen, alone)
    visit, changes = model_update(
        instance=visit,
        data=data,
        allowed=VISIT_FIELDS,
        actor=actor,
        family_id=visit.family_id,
    )
    children = {}
    if {m.pk for m in seen} != before_seen:
        visit.children_seen.set(seen)
        children["children_seen"] = {"from": sorted(before_seen), "to": sorted(m.pk for m in seen)}
    if {m.pk for m in alone} != before_alone:
        visit.children_seen_alone.set(alone)
        children["children_seen_alone"] = {"from": sorted(before_alone), "to": sorted(m.pk for m in alone)}
    if children:
        # Who was seen is part of the visit: a new version of it (model_update has the row locked),
        # unless the field changes just above made one already.
        now = timezone.now()
        bump = {} if changes else {"version": F("version") + 1}
        Visit.objects.filter(pk=visit.pk).update(updated_at=now, **bump)
        visit.updated_at = now
        if not changes:
            visit.version += 1
        audit_record(
            actor=actor, action=AuditAction.CHANGE, instance=visit, family_id=visit.family_id, changes=children
        )
    if changes or children:
        family_touch(visit.family_id)
    return visit


def _validate_status_for_member(member: Member, status: str) -> None:
    # Seed 001, theme 3: a child is "not brought"; only an adult "does not attend".
    if member.is_child and status == AppointmentStatus.DID_NOT_ATTEND:
        raise ValidationError({"status": "A child does not 'fail to attend': record 'was_not_brought'."})
    if not member.is_child and status == AppointmentStatus.WAS_NOT_BROUGHT:
        raise ValidationError({"status": "'was_not_brought' is for a child; for an adult record 'did_not_attend'."})


def _refuse_duplicate(appointment: Appointment) -> None:
    """An exact duplicate (same member, agency, kind and time) is a conflict naming the one saved."""
    existing = (
        Appointment.objects.filter(
            member_id=appointment.member_id,
            agency_id=appointment.agency_id,
            kind=appointment.kind,
            scheduled_for=appointment.scheduled_for,
        )
        .values_list("pk", flat=True)
        .first()
    )
    if existing is not None:
        raise ConflictError(
            f"This appointment is already recorded (appointment {existing}): same person, agency, type and time.",
            current={"id": existing},
            attempted={"kind": appointment.kind, "scheduled_for": appointment.scheduled_for.isoformat()},
        )


@transaction.atomic
def appointment_record(*, actor: User, member: Member, agency: Agency | None = None, **fields: Any) -> Appointment:
    family = member.family
    _require_record(actor, family)
    unknown = set(fields) - set(APPOINTMENT_FIELDS)
    if unknown:
        raise ValueError(f"Unknown appointment fields: {sorted(unknown)}")
    agency = agency or actor.agency
    if agency is None:
        raise ValidationError({"agency": "Give the agency the appointment is with."})
    if actor.role == Role.PARTNER and agency.pk != actor.agency_id:
        raise ValidationError({"agency": "A partner records appointments for its own agency only."})
    status = fields.get("status", AppointmentStatus.BOOKED)
    _validate_status_for_member(member, status)
    appointment = Appointment(
        member=member,
        family=family,
        for_child=member.is_child,
        agency=agency,
        created_by=actor,
        **fields,
    )
    _refuse_duplicate(appointment)
    # The duplicate rule is checked above and by the savepoint below (a 409, not a field error).
    appointment.full_clean(validate_constraints=False)
    appointment.validate_constraints(exclude={"member"})
    try:
        with transaction.atomic():  # a savepoint: another request may have saved the same one just now
            appointment.save()
    except IntegrityError:
        _refuse_duplicate(appointment)
        raise
    audit_create(
        actor=actor,
        instance=appointment,
        family_id=family.pk,
        fields=("member_id", "agency_id", "kind", "status"),
    )
    family_touch(family.pk)
    return appointment


@transaction.atomic
def appointment_update(*, actor: User, appointment: Appointment, data: dict[str, Any]) -> Appointment:
    require_appointment_edit(actor, appointment.family, appointment.agency_id)
    if "status" in data:
        _validate_status_for_member(appointment.member, data["status"])
    appointment, changes = model_update(
        instance=appointment,
        data=data,
        allowed=APPOINTMENT_FIELDS,
        actor=actor,
        family_id=appointment.family_id,
    )
    if changes:
        family_touch(appointment.family_id)
    return appointment
