"""Who may change a visit or an appointment after it is written (issue 14, item 6): one place.

A visit is the record of the agency whose worker made it: only that agency changes it (the owning
team reads a partner's visit, it does not rewrite it, and the reverse). An appointment names the
agency that holds it, often one with no users of its own (a GP practice, a hospital): the owning
team keeps any appointment on its families up to date; a partner changes those its agency holds.
Both need the right to record events for the family at all (`cases.access.can_record_events`).
"""

from __future__ import annotations

from django.core.exceptions import PermissionDenied

from cases.access import can_change_family, can_record_events
from cases.models import Family, Role, User


def writers_agency_id(user: User, family: Family) -> int:
    """The agency a visit written by `user` belongs to: theirs (an admin, with none, writes for the
    family's own agency)."""
    return user.agency_id or family.team.agency_id


def may_edit_visit(user: User, family: Family, visit_agency_id: int) -> bool:
    if not can_record_events(user, family):
        return False
    if user.is_platform_admin:
        return True
    return user.agency_id == visit_agency_id


def may_edit_appointment(user: User, family: Family, appointment_agency_id: int) -> bool:
    if can_change_family(user, family):
        return True
    return can_record_events(user, family) and user.role == Role.PARTNER and user.agency_id == appointment_agency_id


def require_visit_edit(user: User, family: Family, visit_agency_id: int) -> None:
    if not may_edit_visit(user, family, visit_agency_id):
        raise PermissionDenied("Only the agency that recorded this visit can change it.")


def require_appointment_edit(user: User, family: Family, appointment_agency_id: int) -> None:
    if not may_edit_appointment(user, family, appointment_agency_id):
        raise PermissionDenied("Only the owning team or the agency holding this appointment can change it.")
