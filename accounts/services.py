"""Account security: ending sessions, API tokens, second factors. Each step is written to the
security log."""

from __future__ import annotations

import base64
import datetime as dt
import io
from importlib import import_module
from typing import NamedTuple

import qrcode
import qrcode.image.svg
from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django_otp.plugins.otp_totp.models import TOTPDevice
from knox.crypto import hash_token
from knox.models import AuthToken

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


class IssuedToken(NamedTuple):
    """A token just issued: `key` is the only copy of the key (only its hash is stored), to be
    shown once and handed over securely; `token` is the stored record (prefix, expiry)."""

    key: str
    token: AuthToken


def _token_route(actor, reason: str = "") -> str:
    """Who issued or revoked a token, and why, for the security log's route column."""
    who = f"by {actor.get_username()}" if getattr(actor, "pk", None) else "by command"
    reason = " ".join(reason.split())
    return f"{who}: {reason}" if reason else who


@transaction.atomic
def token_issue(*, user, actor=None, reason: str = "") -> IssuedToken:
    """A new API token for the user; any old one stops working (each a security event).

    Issued by a command (`create_user --token`, `revoke_token --reissue`: `actor` None), or by a
    person, who must give a reason: a token skips the second factor, so one for a manager or an
    admin (`requires_two_factor`) is only ever issued deliberately, and the reason is recorded.
    """
    if getattr(actor, "pk", None) and not reason.strip():
        raise ValidationError({"reason": "Say why this person needs an API token."})
    if not user.is_active:
        raise ValidationError({"user": "This account is switched off. Switch it on before issuing a token."})
    _tokens_revoke(user=user, route=_token_route(actor, "replaced by a new token"))
    token, key = AuthToken.objects.create(user=user)
    security_event(SecurityEventKind.TOKEN_ISSUED, user=user, route=_token_route(actor, reason))
    return IssuedToken(key=key, token=token)


def _tokens_revoke(*, user, route: str) -> int:
    revoked = 0
    for token in AuthToken.objects.filter(user=user).only("digest", "user_id"):
        token.delete()
        security_event(SecurityEventKind.TOKEN_REVOKED, user=user, route=route)
        revoked += 1
    return revoked


def token_matches(*, user, key: str) -> bool:
    """Whether `key` is a current (unexpired) API token of `user`."""
    return AuthToken.objects.filter(user=user, digest=hash_token(key), expiry__gt=timezone.now()).exists()


@transaction.atomic
def token_revoke(*, user, actor=None, reason: str = "") -> bool:
    """Revoke the user's API tokens: the next request with one gets 401."""
    return bool(_tokens_revoke(user=user, route=_token_route(actor, reason)))


@transaction.atomic
def token_delete(*, token: AuthToken, actor) -> None:
    """Revoke one token (the admin's delete)."""
    user = token.user
    token.delete()
    security_event(SecurityEventKind.TOKEN_REVOKED, user=user, route=_token_route(actor))


@transaction.atomic
def token_expire(*, token: AuthToken) -> None:
    """A token used after its expiry is deleted: revoked by time, as the security log says."""
    user = token.user
    if AuthToken.objects.filter(digest=token.digest).delete()[0]:
        security_event(SecurityEventKind.TOKEN_REVOKED, user=user, route="expired")
