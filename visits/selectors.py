from __future__ import annotations

from django.db.models import Prefetch, QuerySet
from django.shortcuts import get_object_or_404

from cases.access import restrict_to_visible
from cases.models import Member, User

from .models import Appointment, Visit


def visit_list(*, user: User) -> QuerySet[Visit]:
    """For the API: every related record is shown by id, so none is joined in."""
    return (
        restrict_to_visible(Visit.objects.all(), user)
        # Only the ids are shown (children_seen is a list of member ids): no member row decoded.
        .prefetch_related(
            Prefetch("children_seen", queryset=Member.objects.only("id")),
            Prefetch("children_seen_alone", queryset=Member.objects.only("id")),
        )
    )


def visit_get_for_user(*, user: User, visit_id) -> Visit:
    return get_object_or_404(visit_list(user=user).select_related("family", "agency", "practitioner"), pk=visit_id)


def appointment_list(*, user: User) -> QuerySet[Appointment]:
    return restrict_to_visible(Appointment.objects.all(), user).select_related("family", "member", "agency")


def appointment_get_for_user(*, user: User, appointment_id) -> Appointment:
    return get_object_or_404(appointment_list(user=user), pk=appointment_id)
