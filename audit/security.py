"""The security log: sign-ins, failures, lock-outs, sign-outs, second factors, refused requests.

Each event is a SecurityEvent row (searchable by admins) and one line on the `security` logger.
Usernames and routes only: never a password, token, code, query string or record content.
"""

from __future__ import annotations

import logging

from django.http import HttpRequest

from .context import current_route
from .models import SecurityEvent, SecurityEventKind

logger = logging.getLogger("security")


def client_ip(request: HttpRequest | None) -> str | None:
    """The address Django sees. Behind a proxy, configure it to set REMOTE_ADDR (gunicorn's
    --forwarded-allow-ips), rather than trusting an X-Forwarded-For header anyone can send."""
    return request.META.get("REMOTE_ADDR") if request is not None else None


def _loggable(text: str) -> str:
    """Control characters escaped, so a typed username or a path cannot forge a log line (ASVS 7.3.1)."""
    if not text:
        return "-"
    return "".join(ch if ch.isprintable() else ch.encode("unicode_escape").decode("ascii") for ch in text)


def security_event(
    kind: str,
    *,
    request: HttpRequest | None = None,
    user=None,
    username: str = "",
    status_code: int | None = None,
    route: str | None = None,
    family_id: int | None = None,
) -> SecurityEvent:
    if user is not None and not getattr(user, "pk", None):
        user = None
    username = (username or (user.get_username() if user is not None else ""))[:150]
    if route is None:
        route = current_route() or (
            f"{request.method} {request.path}" if request is not None and request.method else ""
        )
    event = SecurityEvent.objects.create(
        kind=kind,
        user=user,
        username=username,
        route=route[:200],
        status_code=status_code,
        ip_address=client_ip(request),
        family_id=family_id,
    )
    level = logging.INFO if kind in (SecurityEventKind.LOGIN, SecurityEventKind.LOGOUT) else logging.WARNING
    logger.log(level, "%s user=%s route=%s status=%s", kind, _loggable(username), _loggable(route), status_code or "-")
    return event


__all__ = ["SecurityEventKind", "security_event"]
