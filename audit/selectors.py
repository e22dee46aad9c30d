"""Reading the audit log: a family's access log for its managers, and who may see it."""

from __future__ import annotations

from django.db.models import Count, Max, QuerySet

from cases.models import Role, User

from .models import AuditEvent, SecurityEvent, SecurityEventKind


def can_see_access_log(user: User, family) -> bool:
    """Managers who can see the family (its team's, the agency's head of service) and admins.
    The caller has fetched `family` through a selector, so it is visible to the user."""
    return user.is_active and (user.is_platform_admin or user.role == Role.MANAGER)


def family_access_log(*, family_id: int) -> QuerySet[AuditEvent]:
    """Every read and change of the family's record, newest first."""
    return (
        AuditEvent.objects.filter(family_id=family_id)
        .select_related("actor__agency", "actor__team")
        .order_by("-at", "-id")
    )


def family_access_by_person(*, family_id: int, limit: int | None = None) -> list[dict]:
    """Who has looked at (or changed) the record: one line per person, most recent first."""
    rows = (
        AuditEvent.objects.filter(family_id=family_id)
        .values("actor_id", "actor__username", "actor__first_name", "actor__last_name", "actor__role")
        .annotate(events=Count("id"), last_at=Max("at"), agency=Max("actor__agency__name"))
        .order_by("-last_at")
    )
    return list(rows[:limit] if limit else rows)


def family_refused_attempts(*, family_id: int, limit: int = 100) -> list[SecurityEvent]:
    """Refused attempts to open a restricted family (`cases.access.note_restricted_refusal`),
    newest first: for its managers, on the access log (index `security_family_at`)."""
    return list(
        SecurityEvent.objects.filter(family_id=family_id, kind=SecurityEventKind.REFUSED)
        .select_related("user__agency")
        .order_by("-at", "-id")[:limit]
    )
