"""Small helpers shared by the write services of every app."""

from __future__ import annotations

from collections.abc import Iterable
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
    saved = type(instance)._default_manager.select_for_update().filter(pk=instance.pk).values("version").first()
    if saved is None:
        raise ConflictError("This record has been deleted since you opened it.", attempted=attempted)
    if expected is not None and int(expected) != saved["version"]:
        fresh = type(instance)._default_manager.get(pk=instance.pk)
        current = {f: _plain(getattr(fresh, f)) for f in attempted if f not in REDACTED_FIELDS}
        current["version"] = saved["version"]
        raise ConflictError(
            f"Someone else changed this record (now version {saved['version']}) after you opened version "
            f"{expected}. Nothing you entered was saved: check their changes, then make yours again.",
            current=current,
            attempted={f: _plain(v) for f, v in attempted.items() if f not in REDACTED_FIELDS},
        )
    instance.version = saved["version"]


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
) -> tuple[models.Model, dict[str, Any]]:
    """Apply `data` (only `allowed` fields), validate, save and audit the changed fields.

    A `version` in `data` is the version the caller edited: if the record has been saved since,
    ConflictError is raised and nothing is written. Versioned records count up on each save.
    Returns the instance and the changes (empty when nothing changed: no write, no audit row).
    """
    data = dict(data)
    expected_version = data.pop("version", None)
    versioned = any(f.name == "version" for f in instance._meta.concrete_fields)
    if versioned:
        lock_version(instance, expected_version, data)
    allowed = set(allowed)
    unknown = set(data) - allowed
    if unknown:
        raise ValueError(f"Fields not updatable here: {sorted(unknown)}")
    before = snapshot(instance, data)
    for field, value in data.items():
        setattr(instance, field, value)
    changes = diff_fields(before, snapshot(instance, data))
    if not changes:
        return instance, {}
    if hasattr(instance, "updated_at"):
        instance.updated_at = timezone.now()
    if versioned:
        instance.version += 1
    if getattr(actor, "pk", None):
        # The change history names the actor even outside a request (commands, tasks); in a request
        # simple-history's middleware knows the user already (DRF sets it once the token is checked).
        instance._history_user = actor
    instance.full_clean()
    instance.save()
    audit_record(
        actor=actor,
        action=AuditAction.CHANGE,
        instance=instance,
        family_id=family_id,
        changes=changes,
    )
    return instance, changes


def family_touch(family_id: int) -> None:
    """Mark the family changed, so incremental checks and `?updated_since=` syncs see it."""
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
