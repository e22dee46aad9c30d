"""Middleware of the whole site: proxy headers, the anonymous rate limit, response headers."""

from __future__ import annotations

import math
import re
import time
from collections.abc import Callable
from functools import lru_cache

from django.conf import settings
from django.core.cache import cache
from django.core.exceptions import ImproperlyConfigured
from django.http import HttpRequest, HttpResponse
from django.urls import reverse
from django.utils.cache import add_never_cache_headers

from audit.security import client_ip, is_trusted_proxy

# The headers a reverse proxy sets for Django (SECURE_PROXY_SSL_HEADER, USE_X_FORWARDED_HOST,
# audit.security.client_ip). From anyone but a trusted proxy they are forged: removed.
PROXY_HEADERS = ("HTTP_X_FORWARDED_PROTO", "HTTP_X_FORWARDED_FOR", "HTTP_X_FORWARDED_HOST", "HTTP_X_FORWARDED_PORT")


class TrustedProxyMiddleware:
    """First in MIDDLEWARE: X-Forwarded-* count only from an address in `TRUSTED_PROXIES`.

    Django's SECURE_PROXY_SSL_HEADER believes `X-Forwarded-Proto: https` from anyone who can
    reach gunicorn, so a client could pass as HTTPS (and be served Secure cookies, or skip the
    redirect) by sending the header itself. Here the forwarded headers of any other sender are
    stripped before Django's SecurityMiddleware or a view can read them (issue 14, item 16).
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if not is_trusted_proxy(request.META.get("REMOTE_ADDR")):
            for key in PROXY_HEADERS:
                request.META.pop(key, None)
        return self.get_response(request)


_RATE = re.compile(r"^\s*(\d+)\s*/\s*(second|minute|hour|day)\s*$")
_PERIODS = {"second": 1, "minute": 60, "hour": 3600, "day": 86400}


@lru_cache(maxsize=8)
def parse_rate(rate: str) -> tuple[int, int] | None:
    """`"300/minute"` -> (300, 60); empty -> None (no limit). Anything else stops the process."""
    if not rate.strip():
        return None
    match = _RATE.match(rate)
    if match is None:
        raise ImproperlyConfigured(
            f"ANON_RATE_LIMIT={rate!r} is not a rate: use <number>/<second|minute|hour|day>, e.g. 300/minute."
        )
    return int(match.group(1)), _PERIODS[match.group(2)]


class AnonymousRateLimitMiddleware:
    """Anonymous requests are limited per client address (`ANON_RATE_LIMIT`), the pages as well
    as the API (issue 14, item 15): 429 with Retry-After and a plain message over the limit.

    A request counts when it ends anonymous: no signed-in session and no valid API token (DRF
    puts a token's user on the request), so a bad token counts like none. Signed-in people and
    partner systems have their own per-user rate in the API. Fixed windows in the shared cache
    (Redis in production, so every web process counts together). The health check is exempt.
    """

    EXEMPT_PATHS = ("/healthz",)

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        user = getattr(request, "user", None)
        if request.path in self.EXEMPT_PATHS or (user is not None and user.is_authenticated):
            return self.get_response(request)
        now = time.time()
        windows = []  # (cache key, limit, period) of each limit this request counts against
        rate = parse_rate(getattr(settings, "ANON_RATE_LIMIT", ""))
        if rate is not None:
            windows.append((f"anon-rate:{client_ip(request)}:{int(now // rate[1])}", *rate))
        # Sign-in attempts that fail (they end anonymous) have a tighter limit of their own: each
        # is a security event naming the username typed, and the lock-out is per username, so
        # many usernames from one address would otherwise each be tried and logged.
        sign_in = parse_rate(getattr(settings, "SIGN_IN_RATE_LIMIT", ""))
        if sign_in is not None and request.method == "POST" and request.path == reverse("login"):
            windows.append((f"sign-in-rate:{client_ip(request)}:{int(now // sign_in[1])}", *sign_in))
        for key, limit, period in windows:
            if (cache.get(key) or 0) >= limit:
                response = HttpResponse(
                    "Too many requests from your address. Wait a minute, then try again.\n",
                    status=429,
                    content_type="text/plain; charset=utf-8",
                )
                response["Retry-After"] = str(max(1, math.ceil(period - now % period)))
                response.anonymous_rate_limited = True  # for the security log (audit.middleware)
                return response
        response = self.get_response(request)
        user = getattr(request, "user", None)
        if user is None or not user.is_authenticated:
            for key, _limit, period in windows:
                if not cache.add(key, 1, period + 1):
                    try:
                        cache.incr(key)
                    except ValueError:  # expired between the two calls
                        cache.set(key, 1, period + 1)
        return response


class NoStoreMiddleware:
    """`Cache-Control: no-store` on every response Django makes (OWASP ASVS 8.2.1).

    Nearly every page and API response carries part of a child's record, and a shared computer's
    browser cache or a proxy must not keep one. Static files are served before this runs
    (WhiteNoise), with their own long-lived caching.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        add_never_cache_headers(response)
        return response
