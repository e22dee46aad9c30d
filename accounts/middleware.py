"""Session lifetime and the second factor, checked on every request."""

from __future__ import annotations

import time
from collections.abc import Callable
from urllib.parse import urlencode

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.models import AnonymousUser
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect
from django.urls import reverse

from audit.security import SecurityEventKind, security_event

from .services import duration_words, has_two_factor, requires_two_factor
from .signals import AUTH_AT, SEEN_AT, TWO_FACTOR_REQUIRED

# The idle clock is written back at most this often, so a busy page does not save its session
# on every request; the idle limit is therefore exact to within this many seconds.
SEEN_AT_RESOLUTION = 60


class SessionLifetimeMiddleware:
    """End a signed-in session after SESSION_IDLE_TIMEOUT without a request, or
    SESSION_ABSOLUTE_TIMEOUT after the password was accepted, whichever comes first."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        session = request.session
        if session.get("_auth_user_id") is not None:
            now = int(time.time())
            auth_at = session.get(AUTH_AT) or now
            seen_at = session.get(SEEN_AT) or now
            idle = now - seen_at > settings.SESSION_IDLE_TIMEOUT
            if idle or now - auth_at > settings.SESSION_ABSOLUTE_TIMEOUT:
                user = request.user
                security_event(
                    SecurityEventKind.SESSION_EXPIRED,
                    request=request,
                    user=user if user.is_authenticated else None,
                    route="idle" if idle else "absolute limit",
                )
                session.flush()
                request.user = AnonymousUser()
                expired_message = (
                    f"You were signed out after {duration_words(settings.SESSION_IDLE_TIMEOUT)} without activity. "
                    "Sign in again to carry on."
                    if idle
                    else "You were signed out because you signed in more than "
                    f"{duration_words(settings.SESSION_ABSOLUTE_TIMEOUT)} ago. Sign in again."
                )
                messages.info(request, expired_message)
                if request.headers.get("HX-Request"):
                    # A partial page update would swap the sign-in page into part of this one:
                    # send the whole browser window to sign in instead.
                    response = HttpResponse(status=204)
                    response["HX-Redirect"] = f"{reverse('login')}?{urlencode({'next': request.path})}"
                    return response
            elif now - seen_at >= SEEN_AT_RESOLUTION or AUTH_AT not in session:
                session[SEEN_AT] = now
                session.setdefault(AUTH_AT, auth_at)
        return self.get_response(request)


class TwoFactorMiddleware:
    """Until the second factor is given, a signed-in manager or admin (or anyone who set one up)
    reaches only the pages that ask for it. django-otp's OTPMiddleware runs first and sets
    `request.user.is_verified()` from the session."""

    # URL name prefixes reachable before the second factor.
    OPEN_PATHS = ("/static/", "/healthz", "/accounts/", "/api/schema/", "/api/docs/")

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        user = request.user
        if (
            user.is_authenticated
            and not request.path.startswith(self.OPEN_PATHS)
            and not user.is_verified()
            and self._required(request)
        ):
            if request.path.startswith("/api/"):
                # A browser session halfway through signing in; API tokens never reach here.
                return JsonResponse(
                    {"detail": "Finish signing in: give the code from your authenticator app."}, status=403
                )
            target = "two-factor-verify" if has_two_factor(user) else "two-factor-setup"
            url = reverse(target)
            if request.method == "GET" and request.path != "/":
                url += "?" + urlencode({"next": request.get_full_path()})
            response = redirect(url)
            if request.headers.get("HX-Request"):
                response["HX-Redirect"] = url
            return response
        return self.get_response(request)

    @staticmethod
    def _required(request: HttpRequest) -> bool:
        # Remembered in the session so a practitioner without a second factor costs no query per request.
        required = request.session.get(TWO_FACTOR_REQUIRED)
        if required is None:
            required = request.session[TWO_FACTOR_REQUIRED] = requires_two_factor(request.user)
        return required
