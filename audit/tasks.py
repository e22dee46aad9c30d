"""Thin tasks over the audit app's services."""

from __future__ import annotations

from celery import shared_task

from .security import flush_security_repeats


@shared_task(name="audit.flush_security_repeats")
def flush_security_repeats_task() -> int:
    """Write the counted repeats of anonymous refusals whose window has passed, so a burst that
    simply stopped still leaves its count in the security log (audit.security)."""
    return flush_security_repeats()
