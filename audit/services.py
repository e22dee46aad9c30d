"""Writing the audit log. Called inside the service's transaction, so a change and its audit
row commit or roll back together."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.db import connection, models
from django.utils import timezone

from .context import current_route
from .models import AuditAction, AuditEvent

# Never copied into the audit trail (DESIGN 6: the confidential referrer reaches no log line).
REDACTED_FIELDS = frozenset({"referrer_name", "referrer_contact", "supporting_professional"})


def _jsonable(value: Any) -> Any:
    if isinstance(value, models.Model):
        return value.pk
    if hasattr(value, "isoformat"):
        return value.isoformat()
    if isinstance(value, list | tuple | set):
        return [_jsonable(v) for v in value]
    return value


def diff_fields(before: dict[str, Any], after: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The fields whose value changed, as {field: {"from": old, "to": new}}, redacted."""
    changes: dict[str, dict[str, Any]] = {}
    for field, new in after.items():
        old = before.get(field)
        if old != new:
            if field in REDACTED_FIELDS:
                changes[field] = {"from": "[confidential]", "to": "[confidential]"}
            else:
                changes[field] = {"from": _jsonable(old), "to": _jsonable(new)}
    return changes


def audit_record(
    *,
    actor,
    action: str,
    instance: models.Model,
    family_id: int | None,
    route: str | None = None,
    changes: dict[str, Any] | None = None,
) -> AuditEvent:
    return AuditEvent.objects.create(
        actor=actor if getattr(actor, "pk", None) else None,
        action=action,
        model=instance._meta.label_lower,
        object_id=str(instance.pk),
        family_id=family_id,
        route=(route if route is not None else current_route())[:200],
        changes=changes or {},
    )


_INSERT_READS = (
    "INSERT INTO audit_auditevent (at, actor_id, action, model, object_id, family_id, route, changes) "
    "SELECT %s, %s, %s, %s, t.object_id, t.family_id, %s, '{}'::jsonb "
    "FROM unnest(%s::text[], %s::bigint[]) AS t(object_id, family_id)"
)


def audit_reads(
    *,
    actor,
    model: type[models.Model] | str,
    rows: Iterable[tuple[Any, int | None]],
    action: str = AuditAction.VIEW,
    route: str | None = None,
) -> int:
    """One VIEW (or EXPORT) row per record read: `rows` is (object id, family id) pairs.

    One INSERT whatever the number of rows. Called only after the records were fetched through
    a selector, so a refused (404) request writes no read row (the security log has it instead).
    """
    label = model if isinstance(model, str) else model._meta.label_lower
    actor = actor if getattr(actor, "pk", None) else None
    route = (route if route is not None else current_route())[:200]
    rows = list(rows)
    if not rows:
        return 0
    if connection.vendor == "postgresql":
        # One statement with two arrays: a 50-row list page costs ~0.6 ms, against ~3 ms for the
        # ORM's bulk_create building 50 model instances (measured on the 100k-family data set).
        with connection.cursor() as cursor:
            cursor.execute(
                _INSERT_READS,
                [
                    timezone.now(),
                    actor.pk if actor else None,
                    action,
                    label,
                    route,
                    [str(pk) for pk, _ in rows],
                    [family_id for _, family_id in rows],
                ],
            )
        return len(rows)
    AuditEvent.objects.bulk_create(
        AuditEvent(actor=actor, action=action, model=label, object_id=str(pk), family_id=family_id, route=route)
        for pk, family_id in rows
    )
    return len(rows)


def audit_read(*, actor, instance: models.Model, family_id: int | None, route: str | None = None) -> None:
    audit_reads(actor=actor, model=type(instance), rows=[(instance.pk, family_id)], route=route)


__all__ = ["AuditAction", "audit_read", "audit_reads", "audit_record", "diff_fields"]
