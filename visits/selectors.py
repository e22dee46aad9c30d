from __future__ import annotations

from django.db.models import QuerySet
from django.shortcuts import get_object_or_404

from cases.access import restrict_to_visible
from cases.models import User

from .models import Appointment, Visit


def visit_list(*, user: User) -> QuerySet[Visit]:
    return (
        restrict_to_visible(Visit.objects.all(), user)
        .select_related("family", "agency", "practitioner")
        .prefetch_related("children_seen", "children_seen_alone")
    )


def visit_get_for_user(*, user: User, visit_id) -> Visit:
    return get_object_or_404(visit_list(user=user), pk=visit_id)


def appointment_list(*, user: User) -> QuerySet[Appointment]:
    return restrict_to_visible(Appointment.objects.all(), user).select_related("family", "member", "agency")


def appointment_get_for_user(*, user: User, appointment_id) -> Appointment:
    return get_object_or_404(appointment_list(user=user), pk=appointment_id)
