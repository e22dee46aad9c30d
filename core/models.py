"""Shared API plumbing: the `Idempotency-Key`s of API writes (issue 14, item 2)."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone


class IdempotencyKey(models.Model):
    """One API write made with an `Idempotency-Key`: what was asked (method, path, a hash of the
    body) and the first answer, replayed for a repeat within `IDEMPOTENCY_KEY_TTL_HOURS`.

    A row without a status is a request still running: the unique constraint lets exactly one of
    two simultaneous first requests with one key through."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    key = models.CharField(max_length=255)
    method = models.CharField(max_length=8)
    path = models.CharField(max_length=2000)
    request_hash = models.CharField(max_length=64, help_text="SHA-256 of the method, path and body.")
    status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    response_body = models.BinaryField(default=b"")
    response_headers = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    # What the kept answer shows, so a replay is checked and logged like a read of it: the
    # record (its model and id) and its family, whose visibility is checked again on replay.
    record_model = models.CharField(max_length=60, blank=True)
    record_id = models.CharField(max_length=40, blank=True)
    family_id = models.BigIntegerField(null=True, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["user", "key"], name="idempotency_key_per_user")]

    def __str__(self) -> str:
        return f"{self.method} {self.path} ({self.key})"
