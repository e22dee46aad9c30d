"""The audit log: who did what to which record, when, and through which route.

Rows are only ever inserted (see `audit.services.audit_record`); the admin is read-only.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone


class AuditAction(models.TextChoices):
    VIEW = "view", "View"
    CREATE = "create", "Create"
    CHANGE = "change", "Change"
    DELETE = "delete", "Delete"
    EXPORT = "export", "Export"


class AuditEvent(models.Model):
    at = models.DateTimeField(default=timezone.now, db_index=True)
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, related_name="+")
    action = models.CharField(max_length=10, choices=AuditAction.choices)
    model = models.CharField(max_length=60)
    object_id = models.CharField(max_length=40)
    family_id = models.BigIntegerField(null=True, db_index=True)
    route = models.CharField(max_length=200, blank=True, help_text="The page or endpoint, or 'command'.")
    # Previous and new values of changed fields. Confidential referrer fields are never written here.
    changes = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["-at", "-id"]

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d %H:%M} {self.actor_id} {self.action} {self.model}#{self.object_id}"
