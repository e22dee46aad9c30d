"""Helpers for the account-security tests: signing in through the real form, ageing a session
or a lock-out as if time had passed, and authenticator codes."""

from __future__ import annotations

import datetime as dt
import re

from axes.models import AccessAttempt
from django.contrib.sessions.models import Session
from django.db.models import F
from django.utils import timezone
from django_otp.oath import totp
from django_otp.plugins.otp_totp.models import TOTPDevice

from accounts.signals import AUTH_AT, SEEN_AT

# A password distinctive enough to search every log line and table for.
PASSWORD = "Zebra-Quartz-7731-Lantern"
LOGIN_URL = "/accounts/login/"
LOGOUT_URL = "/accounts/logout/"
SETUP_URL = "/accounts/two-factor/"
VERIFY_URL = "/accounts/two-factor/verify/"

WRONG_PASSWORD_MESSAGE = "The username or password is not right. Check them and try again."
LOCKED_OUT_HEADING = "Sign-in is locked for now"
IDLE_MESSAGE = "You were signed out after 30 minutes without activity. Sign in again to carry on."
ABSOLUTE_MESSAGE = "You were signed out because you signed in more than 12 hours ago. Sign in again."


def with_password(user, password: str = PASSWORD):
    user.set_password(password)
    user.save()
    return user


def sign_in(client, username: str, password: str = PASSWORD, *, follow: bool = False, **fields):
    """POST the sign-in form, as a browser does (django-axes needs the real request)."""
    return client.post(LOGIN_URL, {"username": username, "password": password, **fields}, follow=follow)


def session_key(client) -> str | None:
    cookie = client.cookies.get("sessionid")
    return cookie.value if cookie else None


def session_exists(key: str | None) -> bool:
    return bool(key) and Session.objects.filter(session_key=key).exists()


def is_signed_in(client) -> bool:
    """Whether the client's session belongs to someone, as the server sees it now."""
    response = client.get("/accounts/")
    return response.status_code == 200


def age_session(client, seconds: int, *, idle: bool = True, since_sign_in: bool = True) -> None:
    """Move the session's clocks back, as if `seconds` had passed with no request."""
    session = client.session
    if idle:
        session[SEEN_AT] -= seconds
    if since_sign_in:
        session[AUTH_AT] -= seconds
    session.save()


def age_lockout(username: str, minutes: int) -> None:
    """Move django-axes' record of a username's failures back, as if `minutes` had passed."""
    AccessAttempt.objects.filter(username=username).update(
        attempt_time=F("attempt_time") - dt.timedelta(minutes=minutes)
    )


def code_for(device: TOTPDevice, offset: int = 0) -> str:
    """The code the authenticator app shows now (offset in 30-second steps)."""
    device.refresh_from_db()
    value = totp(device.bin_key, step=device.step, t0=device.t0, digits=device.digits, drift=device.drift + offset)
    return f"{value:0{device.digits}d}"


def wrong_code(device: TOTPDevice) -> str:
    """A 6-digit code no step the device would accept (now, one before, one after) shows."""
    accepted = {code_for(device, offset) for offset in (-2, -1, 0, 1, 2)}
    return next(c for c in (f"{n:06d}" for n in range(0, 10**6, 111111)) if c not in accepted)


def wait_out_code_throttle(user) -> None:
    """django-otp slows repeated wrong codes (2^n seconds); pretend the user waited."""
    TOTPDevice.objects.filter(user=user).update(throttling_failure_timestamp=timezone.now() - dt.timedelta(hours=1))


def next_time_step(device: TOTPDevice) -> None:
    """Each code works once; pretend 30 seconds passed so the app shows a new one."""
    TOTPDevice.objects.filter(pk=device.pk).update(last_t=-1)


def normalised(html: str, *usernames: str) -> str:
    """The page with what legitimately differs between two requests taken out: the CSRF token
    and the username the person typed (which the form shows back to them)."""
    html = re.sub(r'name="csrfmiddlewaretoken" value="[^"]+"', 'name="csrfmiddlewaretoken" value="-"', html)
    for username in usernames:
        html = html.replace(f'value="{username}"', 'value="-"')
    return html
