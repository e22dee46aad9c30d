"""Sign-in, sign-out and account receivers: the security log, and ending sessions."""

from __future__ import annotations

import time

from django.contrib.auth import get_user_model
from django.contrib.auth.signals import user_logged_in, user_logged_out, user_login_failed
from django.db.models.signals import post_save, pre_save
from django.dispatch import receiver

from audit.security import SecurityEventKind, security_event

from .services import requires_two_factor, session_register, sessions_end_all

AUTH_AT = "auth_at"  # when the password was accepted: the 12-hour limit runs from here
SEEN_AT = "seen_at"  # the last request: the 30-minute idle limit runs from here
TWO_FACTOR_REQUIRED = "two_factor_required"  # decided at sign-in, read by accounts.middleware.TwoFactorMiddleware


@receiver(user_logged_in)
def on_login(sender, request, user, **kwargs):
    if request is None or not hasattr(request, "session"):
        return
    now = int(time.time())
    request.session[AUTH_AT] = now
    request.session[SEEN_AT] = now
    request.session[TWO_FACTOR_REQUIRED] = requires_two_factor(user)
    if request.session.session_key is None:
        request.session.save()
    session_register(user=user, session_key=request.session.session_key)
    security_event(SecurityEventKind.LOGIN, request=request, user=user)


@receiver(user_logged_out)
def on_logout(sender, request, user, **kwargs):
    if user is None:
        return
    security_event(SecurityEventKind.LOGOUT, request=request, user=user)
    # Signing out signs out everywhere: no session of this person is left behind on another device.
    sessions_end_all(user=user, request=request)


@receiver(user_login_failed)
def on_login_failed(sender, credentials, request=None, **kwargs):
    # Django has already masked the password in `credentials`; only the username is kept.
    security_event(SecurityEventKind.LOGIN_FAILED, request=request, username=str(credentials.get("username", "")))


def _on_locked_out(sender, request, username, ip_address, **kwargs):
    security_event(SecurityEventKind.LOCKED_OUT, request=request, username=username or "")


try:  # django-axes sends this when a username is locked
    from axes.signals import user_locked_out

    user_locked_out.connect(_on_locked_out, dispatch_uid="accounts.locked_out")
except ImportError:  # pragma: no cover
    pass


User = get_user_model()


@receiver(pre_save, sender=User)
def _remember_was_active(sender, instance, update_fields=None, **kwargs):
    if instance.pk and (update_fields is None or "is_active" in update_fields):
        instance._was_active = User.objects.filter(pk=instance.pk).values_list("is_active", flat=True).first()


@receiver(post_save, sender=User)
def on_user_saved(sender, instance, created, **kwargs):
    """Switching an account off ends all its sessions at once (its API token is refused too,
    since DRF refuses inactive users)."""
    if not created and not instance.is_active and getattr(instance, "_was_active", False):
        sessions_end_all(user=instance, reason="account switched off")
