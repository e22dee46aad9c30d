"""Small helpers shared by the write services of every app."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.db import models
from django.utils import timezone

from audit.services import AuditAction, audit_record, diff_fields

from .models import Family


def snapshot(instance: models.Model, fields: Iterable[str]) -> dict[str, Any]:
    return {f: getattr(instance, f) for f in fields}


def model_update(
    *,
    instance: models.Model,
    data: dict[str, Any],
    allowed: Iterable[str],
    actor,
    family_id: int | None,
) -> tuple[models.Model, dict[str, Any]]:
    """Apply `data` (only `allowed` fields), validate, save and audit the changed fields.

    Returns the instance and the changes (empty when nothing changed: no write, no audit row).
    """
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
