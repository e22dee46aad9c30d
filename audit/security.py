"""The security log: sign-ins, failures, lock-outs, sign-outs, second factors, refused requests.

Each event is a SecurityEvent row (searchable by admins) and one line on the `security` logger.
Usernames and routes only: never a password, token, code, query string or record content.

Anonymous repeats are aggregated (issue 14, item 15). Anyone could otherwise fill the log with a
loop of 404s. An anonymous refusal (kind + address + status) is written at once the first time;
its repeats within `SECURITY_REPEAT_WINDOW` seconds are only counted, in the shared cache; once
the window has passed, the count is written as ONE row (`count`, `first_at`..`at`), by the next
such refusal or by the sweep (`flush_security_repeats`, run on any aggregated event at most once
a window, and by the beat task `audit.flush_security_repeats` for a burst that simply stopped).
The log is append-only (a trigger refuses UPDATE), so a count is never added to a row already
written. A signed-in user's events are each written: they name an account, and each may be an
attempt on a restricted record that its manager must see.
"""

from __future__ import annotations

import ipaddress
import logging
import time
from datetime import UTC, datetime
from functools import lru_cache

from django.conf import settings
from django.core.cache import cache
from django.http import HttpRequest

from .context import current_route
from .models import SecurityEvent, SecurityEventKind

logger = logging.getLogger("security")

AGGREGATED_KINDS = frozenset({SecurityEventKind.REFUSED})
_PENDING = "security:repeats:pending"  # {key: when its window opened}
_SWEPT = "security:repeats:swept"
# Long enough for the sweep to find a count; the count is lost only if nothing sweeps for this long.
_KEEP_SECONDS = 24 * 60 * 60


def _now() -> float:
    return time.time()


@lru_cache(maxsize=8)
def _networks(entries: tuple[str, ...]) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
    return tuple(ipaddress.ip_network(entry, strict=False) for entry in entries)


def is_trusted_proxy(address: str | None) -> bool:
    """Whether `address` is one of `TRUSTED_PROXIES` (addresses or networks, e.g. 10.0.0.0/8)."""
    if not address:
        return False
    try:
        ip = ipaddress.ip_address(address.strip())
    except ValueError:
        return False
    return any(ip in network for network in _networks(tuple(getattr(settings, "TRUSTED_PROXIES", ()))))


def forwarded_client(remote_addr: str | None, forwarded_for: str) -> str | None:
    """The client's address behind trusted proxies: X-Forwarded-For read from the right, every
    trusted proxy skipped, the first address that is not one is the client (anything to its left
    was written by the client and proves nothing). Only for a request from a trusted proxy."""
    if not is_trusted_proxy(remote_addr):
        return remote_addr
    for hop in reversed([part.strip() for part in forwarded_for.split(",") if part.strip()]):
        try:
            ipaddress.ip_address(hop)
        except ValueError:
            return remote_addr  # a garbled header: the proxy's own address, never a guess
        if not is_trusted_proxy(hop):
            return hop
    return remote_addr


def client_ip(request: HttpRequest | None) -> str | None:
    """The client's address: REMOTE_ADDR, or behind a trusted proxy (`TRUSTED_PROXIES`) the
    right-most untrusted address of X-Forwarded-For. A header sent by anyone else is ignored
    (and stripped before any view: safeguarding.middleware.TrustedProxyMiddleware)."""
    if request is None:
        return None
    remote = request.META.get("REMOTE_ADDR")
    forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "")
    return forwarded_client(remote, forwarded) if forwarded else remote


def _loggable(text: str) -> str:
    """Control characters escaped, so a typed username or a path cannot forge a log line (ASVS 7.3.1)."""
    if not text:
        return "-"
    return "".join(ch if ch.isprintable() else ch.encode("unicode_escape").decode("ascii") for ch in text)


def _write(
    kind: str,
    *,
    user=None,
    username: str = "",
    route: str = "",
    status_code: int | None = None,
    ip_address: str | None = None,
    family_id: int | None = None,
    count: int = 1,
    first_at: datetime | None = None,
) -> SecurityEvent:
    event = SecurityEvent.objects.create(
        kind=kind,
        user=user,
        username=username,
        route=route[:200],
        status_code=status_code,
        ip_address=ip_address,
        family_id=family_id,
        count=count,
        first_at=first_at,
    )
    level = logging.INFO if kind in (SecurityEventKind.LOGIN, SecurityEventKind.LOGOUT) else logging.WARNING
    repeats = f" repeated={count}" if count != 1 else ""
    logger.log(
        level,
        "%s user=%s route=%s status=%s%s",
        kind,
        _loggable(username),
        _loggable(route),
        status_code or "-",
        repeats,
    )
    return event


def _repeat_key(kind: str, ip: str, status_code: int | None) -> str:
    return f"security:repeats:{kind}:{ip}:{status_code or '-'}"


def _window() -> int:
    return int(getattr(settings, "SECURITY_REPEAT_WINDOW", 60))


def _flush(key: str, state: tuple[float, str, str, str, int | None]) -> int:
    """Write the repeats counted under `key` as one row, and take them off the count (a repeat
    counted meanwhile by another process stays counted, for the next summary)."""
    opened, kind, ip, route, status_code = state
    repeats = cache.get(f"{key}:n") or 0
    if repeats <= 0:
        return 0
    _write(
        kind,
        route=route,
        status_code=status_code,
        ip_address=ip,
        count=repeats,
        first_at=datetime.fromtimestamp(opened, tz=UTC),
    )
    try:
        cache.decr(f"{key}:n", repeats)
    except ValueError:
        pass
    return 1


def _register(key: str, opened: float) -> None:
    pending = cache.get(_PENDING) or {}
    pending[key] = opened
    cache.set(_PENDING, pending, _KEEP_SECONDS)


def flush_security_repeats(*, force: bool = False) -> int:
    """Write the counted repeats of every window that has passed (of every window, with
    `force`). Returns how many summary rows were written."""
    now = _now()
    cache.set(_SWEPT, now, _KEEP_SECONDS)
    pending: dict[str, float] = cache.get(_PENDING) or {}
    due = {key: opened for key, opened in pending.items() if force or now - opened >= _window()}
    written = 0
    for key, opened in due.items():
        state = cache.get(key)
        if state is None or state[0] != opened:
            continue  # reopened since: the event that reopened it wrote the old window's count
        written += _flush(key, state)
        cache.delete(key)
    if due:
        remaining = {key: opened for key, opened in (cache.get(_PENDING) or {}).items() if due.get(key) != opened}
        cache.set(_PENDING, remaining, _KEEP_SECONDS)
    return written


def _counted_as_repeat(kind: str, ip: str, route: str, status_code: int | None) -> bool:
    """True when this event is a repeat within its window (counted, not written)."""
    window = _window()
    if window <= 0:
        return False
    now = _now()
    key = _repeat_key(kind, ip, status_code)
    state = cache.get(key)
    if state is not None and now - state[0] < window:
        try:
            cache.incr(f"{key}:n")
        except ValueError:  # the count expired or was never made
            cache.set(f"{key}:n", 1, _KEEP_SECONDS)
        return True
    if state is not None:
        _flush(key, state)  # the window has passed: its repeats first, then this event opens the next
    cache.set(key, (now, kind, ip, route[:200], status_code), _KEEP_SECONDS)
    cache.add(f"{key}:n", 0, _KEEP_SECONDS)
    _register(key, now)
    if now - (cache.get(_SWEPT) or 0) >= window:
        flush_security_repeats()
    return False


def security_event(
    kind: str,
    *,
    request: HttpRequest | None = None,
    user=None,
    username: str = "",
    status_code: int | None = None,
    route: str | None = None,
    family_id: int | None = None,
) -> SecurityEvent | None:
    """Write one event. An anonymous refusal repeated within the window is counted instead and
    None is returned (see the module's docstring)."""
    if user is not None and not getattr(user, "pk", None):
        user = None
    username = (username or (user.get_username() if user is not None else ""))[:150]
    if route is None:
        route = current_route() or (
            f"{request.method} {request.path}" if request is not None and request.method else ""
        )
    ip = client_ip(request)
    anonymous = user is None and not username and family_id is None
    if kind in AGGREGATED_KINDS and anonymous and ip and _counted_as_repeat(kind, ip, route, status_code):
        return None
    return _write(
        kind,
        user=user,
        username=username,
        route=route,
        status_code=status_code,
        ip_address=ip,
        family_id=family_id,
    )


__all__ = ["SecurityEventKind", "client_ip", "flush_security_repeats", "is_trusted_proxy", "security_event"]
