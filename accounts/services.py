"""Account security: ending sessions, API tokens, second factors. Each step is written to the
security log."""

from __future__ import annotations

import base64
import datetime as dt
import io
from importlib import import_module

import qrcode
import qrcode.image.svg
from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django_otp.plugins.otp_totp.models import TOTPDevice
from rest_framework.authtoken.models import Token

from audit.security import SecurityEventKind, security_event

from .models import UserSession


def duration_words(seconds: float | dt.timedelta) -> str:
    """30 minutes, 12 hours: a configured limit in words, so pages say what was actually set."""
    if isinstance(seconds, dt.timedelta):
        seconds = seconds.total_seconds()
    seconds = int(seconds)
    if seconds >= 3600 and seconds % 3600 == 0:
        hours = seconds // 3600
        return f"{hours} hour{'s' if hours != 1 else ''}"
    minutes = max(1, seconds // 60)
    return f"{minutes} minute{'s' if minutes != 1 else ''}"


def _session_store():
    return import_module(settings.SESSION_ENGINE).SessionStore


def session_register(*, user, session_key: str) -> None:
    # Sessions older than the absolute limit have ended by themselves: forget them.
    stale = timezone.now() - dt.timedelta(seconds=settings.SESSION_ABSOLUTE_TIMEOUT)
    UserSession.objects.filter(user=user, created_at__lt=stale).delete()
    UserSession.objects.update_or_create(session_key=session_key, defaults={"user": user})


def sessions_end_all(*, user, request=None, reason: str = "") -> int:
    """End every session the person holds, on every device, server-side. Returns how many."""
    store = _session_store()
    keys = list(UserSession.objects.filter(user=user).values_list("session_key", flat=True))
    for key in keys:
        store().delete(key)
    UserSession.objects.filter(user=user).delete()
    if keys and reason:
        security_event(SecurityEventKind.SESSIONS_ENDED, request=request, user=user, route=reason)
    return len(keys)


def requires_two_factor(user) -> bool:
    """Managers and admins must use a second factor; anyone who has set one up uses it."""
    if not user.is_authenticated:
        return False
    role = "admin" if user.is_platform_admin else user.role
    return role in settings.TWO_FACTOR_REQUIRED_ROLES or has_two_factor(user)


def confirmed_device(user) -> TOTPDevice | None:
    return TOTPDevice.objects.filter(user=user, confirmed=True).first()


def has_two_factor(user) -> bool:
    return TOTPDevice.objects.filter(user=user, confirmed=True).exists()


def totp_pending_device(*, user) -> TOTPDevice:
    """The unconfirmed authenticator being set up (one at a time), created on first use."""
    device = TOTPDevice.objects.filter(user=user, confirmed=False).first()
    return device or TOTPDevice.objects.create(user=user, name="Authenticator app", confirmed=False)


def totp_secret(device: TOTPDevice) -> str:
    """The key in base32, as authenticator apps take it when typed in."""
    return base64.b32encode(device.bin_key).decode().rstrip("=")


def totp_qr_data_uri(device: TOTPDevice) -> str:
    """The otpauth:// URL as an SVG QR code in a data: URI (the CSP allows data: images, no inline markup)."""
    image = qrcode.make(device.config_url, image_factory=qrcode.image.svg.SvgPathImage, box_size=8)
    buffer = io.BytesIO()
    image.save(buffer)
    return "data:image/svg+xml;base64," + base64.b64encode(buffer.getvalue()).decode()


def totp_wait_seconds(device: TOTPDevice) -> int:
    """After a wrong code, django-otp refuses codes for a moment (1 s, then 2, 4, ...): how long."""
    allowed, data = device.verify_is_allowed()
    if allowed or not data or "locked_until" not in (data or {}):
        return 0 if allowed else 1
    return max(1, int((data["locked_until"] - timezone.now()).total_seconds()) + 1)


@transaction.atomic
def totp_confirm(*, user, device: TOTPDevice, token: str, request=None) -> bool:
    """Confirm a new authenticator with its first code; any older ones are removed."""
    if not device.verify_token(token):
        security_event(SecurityEventKind.TWO_FACTOR_FAILED, request=request, user=user)
        return False
    TOTPDevice.objects.filter(user=user).exclude(pk=device.pk).delete()
    device.confirmed = True
    device.save(update_fields=["confirmed"])
    security_event(SecurityEventKind.TWO_FACTOR_ADDED, request=request, user=user)
    return True


def totp_verify(*, user, token: str, request=None) -> TOTPDevice | None:
    """The confirmed device that accepts `token`, or None. django-otp slows repeated failures."""
    for device in TOTPDevice.objects.filter(user=user, confirmed=True):
        allowed, _ = device.verify_is_allowed()
        if allowed and device.verify_token(token):
            security_event(SecurityEventKind.TWO_FACTOR_OK, request=request, user=user)
            return device
    security_event(SecurityEventKind.TWO_FACTOR_FAILED, request=request, user=user)
    return None


@transaction.atomic
def token_issue(*, user, actor=None) -> Token:
    """A new API token for the user (any old one stops working)."""
    Token.objects.filter(user=user).delete()
    token = Token.objects.create(user=user)
    security_event(SecurityEventKind.TOKEN_ISSUED, user=user, route=f"by {getattr(actor, 'username', 'command')}")
    return token


@transaction.atomic
def token_revoke(*, user, actor=None) -> bool:
    """Revoke the user's API token: the next request with it gets 401."""
    deleted, _ = Token.objects.filter(user=user).delete()
    if deleted:
        security_event(SecurityEventKind.TOKEN_REVOKED, user=user, route=f"by {getattr(actor, 'username', 'command')}")
    return bool(deleted)
