"""Writing the audit log. Called inside the service's transaction, so a change and its audit
row commit or roll back together."""

from __future__ import annotations

from typing import Any

from django.db import models

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


__all__ = ["AuditAction", "audit_record", "diff_fields"]
