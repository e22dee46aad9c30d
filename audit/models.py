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


class AppendOnlyQuerySet(models.QuerySet):
    """The application can add audit rows, never change or remove them (a PostgreSQL trigger,
    migration 0003, refuses UPDATE and DELETE underneath as well)."""

    def update(self, **kwargs):
        raise PermissionError("The audit log is append-only.")

    def delete(self):
        raise PermissionError("The audit log is append-only.")


class AppendOnlyModel(models.Model):
    objects = AppendOnlyQuerySet.as_manager()

    class Meta:
        abstract = True

    def save(self, *args, **kwargs):
        if not self._state.adding:
            raise PermissionError("The audit log is append-only.")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise PermissionError("The audit log is append-only.")


class AuditEvent(AppendOnlyModel):
    at = models.DateTimeField(default=timezone.now, db_index=True)
    # No index on actor_id (migration 0006): no query reads the log by actor alone (the access log
    # goes by family, the admin's list by time, its search scans), and every read row paid for it.
    # No database foreign key either (0007): PostgreSQL checked it row by row, locking the user's
    # row each time, a third of writing a page's read rows. The id is always the signed-in user's;
    # PROTECT still refuses to delete a user who is in the log (users are switched off, not deleted).
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        related_name="+",
        db_index=False,
        db_constraint=False,
    )
    action = models.CharField(max_length=10, choices=AuditAction.choices)
    model = models.CharField(max_length=60)
    object_id = models.CharField(max_length=40)
    # Indexed by audit_family_at (family_id, -at), which also serves lookups by family alone.
    family_id = models.BigIntegerField(null=True)
    route = models.CharField(max_length=200, blank=True, help_text="The page or endpoint, or 'command'.")
    # Previous and new values of changed fields. Confidential referrer fields are never written here.
    changes = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["-at", "-id"]
        indexes = [models.Index(fields=["family_id", "-at"], name="audit_family_at")]

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d %H:%M} {self.actor_id} {self.action} {self.model}#{self.object_id}"


class SecurityEventKind(models.TextChoices):
    LOGIN = "login", "Signed in"
    LOGIN_FAILED = "login_failed", "Sign-in failed"
    LOCKED_OUT = "locked_out", "Locked out"
    LOGOUT = "logout", "Signed out"
    SESSION_EXPIRED = "session_expired", "Session expired"
    SESSIONS_ENDED = "sessions_ended", "Every session ended"
    TWO_FACTOR_OK = "two_factor_ok", "Second factor accepted"
    TWO_FACTOR_FAILED = "two_factor_failed", "Second factor refused"
    TWO_FACTOR_ADDED = "two_factor_added", "Authenticator app added"
    TWO_FACTOR_REMOVED = "two_factor_removed", "Authenticator app removed"
    REFUSED = "refused", "Access refused"
    TOKEN_ISSUED = "token_issued", "API token issued"
    TOKEN_REVOKED = "token_revoked", "API token revoked"


class SecurityEvent(AppendOnlyModel):
    """Sign-ins, sign-outs, lock-outs, second factors and refused requests (401, 403, 404).

    Append-only like AuditEvent. `username` is what was typed at a failed sign-in (the account
    may not exist); no password, token or code is ever stored.
    """

    at = models.DateTimeField(default=timezone.now, db_index=True)
    kind = models.CharField(max_length=20, choices=SecurityEventKind.choices)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, related_name="+")
    username = models.CharField(max_length=150, blank=True)
    route = models.CharField(max_length=200, blank=True)
    status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    ip_address = models.GenericIPAddressField(null=True, blank=True)
    # The family the refused request was about, where there is one (a restricted record): its
    # manager sees these attempts beside the record's access log.
    family_id = models.BigIntegerField(null=True, blank=True)
    # How many events this row stands for. An anonymous refusal repeated from one address is
    # written once at once, then its repeats within the window as one row (issue 14, item 15):
    # `count` of them, between `first_at` and `at`. The log is append-only, so a row's count is
    # never raised afterwards; a new row is added instead (audit.security).
    count = models.PositiveIntegerField(default=1)
    first_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-at", "-id"]
        indexes = [
            models.Index(fields=["kind", "at"], name="security_kind_at"),
            models.Index(
                fields=["family_id", "-at"], condition=models.Q(family_id__isnull=False), name="security_family_at"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d %H:%M} {self.kind} {self.username or self.user_id}"
