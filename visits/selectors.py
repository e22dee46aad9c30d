from __future__ import annotations

from django.contrib.postgres.expressions import ArraySubquery
from django.db import connection
from django.db.models import OuterRef, Prefetch, QuerySet
from django.shortcuts import get_object_or_404

from cases.access import restrict_to_visible
from cases.models import Member, User

from .models import Appointment, Visit

# The visit's children, as member ids in the members' own order (family, id): annotations named
# after the many-to-many fields they stand for (read by visits.api.MemberIdsField).
CHILD_ID_ANNOTATIONS = {"children_seen": "children_seen_ids", "children_seen_alone": "children_seen_alone_ids"}


def _member_ids(relation: str) -> ArraySubquery:
    through = getattr(Visit, relation).through
    return ArraySubquery(
        through.objects.filter(visit_id=OuterRef("pk")).order_by("member__family_id", "member_id").values("member_id")
    )


def visit_list(*, user: User) -> QuerySet[Visit]:
    """For the API: every related record is shown by id, so none is joined in.

    The children seen (alone) are a list of member ids: on PostgreSQL each is an
    `ARRAY(SELECT member_id … ORDER BY …)` in the visits query itself, worked out for the rows of
    the page only, rather than two more queries whose rows Django turns into Member objects and a
    queryset per visit (half a 50-visit page's time). Elsewhere (SQLite), two id-only prefetches.
    """
    qs = restrict_to_visible(Visit.objects.all(), user)
    if connection.vendor == "postgresql":
        return qs.annotate(**{name: _member_ids(relation) for relation, name in CHILD_ID_ANNOTATIONS.items()})
    return qs.prefetch_related(*(Prefetch(relation, queryset=Member.objects.only("id")) for relation in CHILD_ID_ANNOTATIONS))


def visit_get_for_user(*, user: User, visit_id) -> Visit:
    return get_object_or_404(visit_list(user=user).select_related("family", "agency", "practitioner"), pk=visit_id)


def appointment_list(*, user: User) -> QuerySet[Appointment]:
    return restrict_to_visible(Appointment.objects.all(), user).select_related("family", "member", "agency")


def appointment_get_for_user(*, user: User, appointment_id) -> Appointment:
    return get_object_or_404(appointment_list(user=user), pk=appointment_id)
