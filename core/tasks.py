"""Thin Celery tasks for the shared API plumbing."""

from __future__ import annotations

from celery import shared_task

from . import services


@shared_task(name="core.purge_idempotency_keys")
def purge_idempotency_keys() -> int:
    """Hourly: idempotency keys past `IDEMPOTENCY_KEY_TTL_HOURS` are deleted."""
    return services.idempotency_keys_purge()
