"""Which sessions belong to whom, so signing out and switching an account off can end every one
of a person's sessions server-side (Django's session store is keyed by session only)."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone


class UserSession(models.Model):
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    session_key = models.CharField(max_length=40, unique=True)
    created_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return f"Session of {self.user_id} since {self.created_at:%Y-%m-%d %H:%M}"
