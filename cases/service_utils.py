"""Small helpers shared by the write services of every app."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from django.db import models
from django.utils import timezone

from audit.services import REDACTED_FIELDS, AuditAction, audit_record, diff_fields

from .models import Family


def snapshot(instance: models.Model, fields: Iterable[str]) -> dict[str, Any]:
    return {f: getattr(instance, f) for f in fields}


class ConflictError(Exception):
    """Someone else saved the record since the caller read it (optimistic concurrency).

    Carries both sides so neither is lost: `current` (what is saved now, with its version) and
    `attempted` (what the caller tried to save). The API answers 409; a page shows both.
    """

    def __init__(self, message: str, *, current: dict[str, Any] | None = None, attempted: dict[str, Any] | None = None):
        super().__init__(message)
        self.message = message
        self.current = current or {}
        self.attempted = attempted or {}


def lock_version(instance: models.Model, expected: int | None, attempted: dict[str, Any]) -> None:
    """Lock the row; refuse if it has moved on from the version the caller edited.

    Must run inside the caller's transaction: the row lock holds until it commits, so of two
    concurrent saves from the same version exactly one wins and the other gets ConflictError.
    """
    _lock_fresh(instance, expected, attempted)


def _lock_fresh(instance: models.Model, expected: int | None, attempted: dict[str, Any]) -> None:
    """Lock the row, check `expected` against its version, and copy the saved values onto
    `instance` (every concrete field), so an update starts from what is saved now."""
    manager = type(instance)._default_manager
    fresh = manager.select_for_update().filter(pk=instance.pk).first()
    if fresh is None:
        raise ConflictError("This record has been deleted since you opened it.", attempted=attempted)
    saved_version = getattr(fresh, "version", None)
    if expected is not None and saved_version is not None and int(expected) != saved_version:
        current = {f: _plain(getattr(fresh, f)) for f in attempted if f not in REDACTED_FIELDS}
        current["version"] = saved_version
        raise ConflictError(
            f"Someone else changed this record (now version {saved_version}) after you opened version "
            f"{expected}. Nothing you entered was saved: check their changes, then make yours again.",
            current=current,
            attempted={f: _plain(v) for f, v in attempted.items() if f not in REDACTED_FIELDS},
        )
    # The caller's copy was read before the lock: whatever it changes next must start from what is
    # saved now, or a whole-row view of it (its audit diff, its response) names stale values.
    for field in instance._meta.concrete_fields:
        if field.primary_key:
            continue
        value = getattr(fresh, field.attname)
        if field.is_relation and field.is_cached(instance) and getattr(instance, field.attname) != value:
            field.delete_cached_value(instance)  # the cached object would still name the old row
        setattr(instance, field.attname, value)


def _plain(value: Any) -> Any:
    if isinstance(value, models.Model):
        return value.pk
    if isinstance(value, list | tuple | set):
        return [_plain(v) for v in value]
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return value


def model_update(
    *,
    instance: models.Model,
    data: dict[str, Any],
    allowed: Iterable[str],
    actor,
    family_id: int | None,
    derive: Callable[[models.Model, dict[str, Any]], dict[str, Any]] | None = None,
) -> tuple[models.Model, dict[str, Any]]:
    """Apply `data` (only `allowed` fields), validate, save and audit the changed fields.

    A `version` in `data` is the version the caller edited: if the record has been saved since,
    ConflictError is raised and nothing is written. Versioned records count up on each save.
    Returns the instance and the changes (empty when nothing changed: no write, no audit row).

    The row is locked and `instance` refreshed from it before anything is applied, and only the
    changed fields are written: a whole-row save of a copy read before the lock wrote back, stale,
    every field the caller had not touched (a lead professional set a moment before, say).
    `derive(instance, data)`, called once the row is locked and fresh, returns further fields
    that follow from the change (when something was confirmed, say), so they are worked out
    from the saved values rather than from the caller's older copy.
    """
    data = dict(data)
    expected_version = data.pop("version", None)
    allowed = set(allowed)
    unknown = set(data) - allowed
    if unknown:
        raise ValueError(f"Fields not updatable here: {sorted(unknown)}")
    versioned = is_versioned(instance)
    _lock_fresh(instance, expected_version if versioned else None, data)
    if derive is not None:
        data.update(derive(instance, data))
    before = snapshot(instance, data)
    for field, value in data.items():
        setattr(instance, field, value)
    changes = diff_fields(before, snapshot(instance, data))
    if not changes:
        return instance, {}
    written = [instance._meta.get_field(f).name for f in changes]
    if hasattr(instance, "updated_at"):
        instance.updated_at = timezone.now()
        written.append("updated_at")
    if versioned:
        instance.version += 1
        written.append("version")
    if getattr(actor, "pk", None):
        # The change history names the actor even outside a request (commands, tasks); in a request
        # simple-history's middleware knows the user already (DRF sets it once the token is checked).
        instance._history_user = actor
    instance.full_clean()
    instance.save(update_fields=written)
    audit_record(
        actor=actor,
        action=AuditAction.CHANGE,
        instance=instance,
        family_id=family_id,
        changes=changes,
    )
    return instance, changes


def is_versioned(instance_or_model) -> bool:
    return any(f.name == "version" for f in instance_or_model._meta.concrete_fields)


def family_touch(family_id: int) -> None:
    """Mark the family changed, so incremental checks and `?updated_since=` syncs see it.

    Deliberately NOT a new version of the family: this marks a change to a record *under* the
    family (a member added, a visit logged, a share ended), and `version` guards the family row's
    own fields. Raising it here would refuse a partner's If-Match on the family because someone
    added a member, although nothing they read of the family had changed. `updated_at` alone is
    what incremental checks and `?updated_since=` syncs need.
    """
    Family.objects.filter(pk=family_id).update(updated_at=timezone.now())


def audit_create(*, actor, instance: models.Model, family_id: int | None, fields: Iterable[str] = ()) -> None:
    changes = diff_fields({}, snapshot(instance, fields)) if fields else {}
    audit_record(
        actor=actor,
        action=AuditAction.CREATE,
        instance=instance,
        family_id=family_id,
        changes=changes,
    )
