"""Writing the audit log. Called inside the service's transaction, so a change and its audit
row commit or roll back together."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.db import connection, models
from django.utils import timezone

from .context import current_route, note_families_read
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
# The same INSERT, committed without waiting for its WAL to reach the disk: `set_config(…, true)`
# lasts until the end of the statement's own transaction (a one-time filter, run once before the
# first row), so it governs that commit and nothing after it. Only ever sent in autocommit.
_INSERT_READS_ASYNC = _INSERT_READS + " WHERE (SELECT set_config('synchronous_commit', 'off', true)) IS NOT NULL"


def _text_array(values: Iterable[Any]) -> str:
    """A PostgreSQL text[] literal: every element quoted, backslash and double quote escaped."""
    return "{" + ",".join('"' + str(v).replace("\\", "\\\\").replace('"', '\\"') + '"' for v in values) + "}"


def _bigint_array(values: Iterable[int | None]) -> str:
    """A PostgreSQL bigint[] literal (NULL for None)."""
    return "{" + ",".join("NULL" if v is None else str(int(v)) for v in values) + "}"


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

    Durability of VIEW rows. A read request is not in a transaction (no ATOMIC_REQUESTS), so its
    INSERT is a transaction of its own, and PostgreSQL's commit waits for the WAL to be flushed to
    disk: on a busy disk that wait was most of the call. VIEW rows written in autocommit are
    therefore committed with `synchronous_commit = off`, for that one statement only. The commit
    is still atomic and in order, and the rows are visible to everyone at once; what is given up
    is that if the PostgreSQL server itself crashes (or the machine loses power) in the moment
    after the commit -- at most about three `wal_writer_delay`s, 0.6 s by default -- the last
    read rows can be lost, while the pages they recorded were already sent (nor does such a
    commit wait for a synchronous standby, if one is configured). Nothing can be half-written,
    and any later synchronous commit (every change is one) flushes them too.
    Everything else stays synchronous: EXPORT rows, and any row written inside a transaction
    (`transaction.atomic`, e.g. a service's change with its CHANGE row), where the setting would
    otherwise reach the change's own commit.
    """
    label = model if isinstance(model, str) else model._meta.label_lower
    actor = actor if getattr(actor, "pk", None) else None
    route = (route if route is not None else current_route())[:200]
    rows = list(rows)
    if not rows:
        return 0
    note_families_read(family_id for _, family_id in rows)
    if connection.vendor == "postgresql":
        # One statement with two arrays, each sent as one literal (the driver would otherwise
        # adapt every element: a quarter of a millisecond for 50 rows).
        asynchronous = action == AuditAction.VIEW and connection.get_autocommit() and not connection.in_atomic_block
        with connection.cursor() as cursor:
            cursor.execute(
                _INSERT_READS_ASYNC if asynchronous else _INSERT_READS,
                [
                    timezone.now(),
                    actor.pk if actor else None,
                    action,
                    label,
                    route,
                    _text_array(pk for pk, _ in rows),
                    _bigint_array(family_id for _, family_id in rows),
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
