"""Thin Celery tasks for the case record: they call the services."""

from __future__ import annotations

from celery import shared_task

from cases import services


@shared_task(name="cases.release_lapsed_share_leads")
def release_lapsed_share_leads() -> int:
    """Daily: a lead professional whose agency's share has lapsed stops being lead (item 7)."""
    return len(services.lapsed_shares_release())
