"""The route of the current request or command, for audit rows, without threading it
through every service signature; and which families the request has written read rows for."""

from __future__ import annotations

import contextvars
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from django.http import HttpRequest, HttpResponse

_route: contextvars.ContextVar[str] = contextvars.ContextVar("audit_route", default="")
# The families whose records this request has written a read row for (None outside a request).
_families_read: contextvars.ContextVar[set[int] | None] = contextvars.ContextVar("audit_families_read", default=None)
# Restricted families this request was refused (None outside a request): the refusal's one
# security event names the family (audit.middleware.RefusedAccessMiddleware).
_families_refused: contextvars.ContextVar[list[int] | None] = contextvars.ContextVar(
    "audit_families_refused", default=None
)


def current_route() -> str:
    return _route.get()


@contextmanager
def audit_route(route: str) -> Iterator[None]:
    token = _route.set(route)
    try:
        yield
    finally:
        _route.reset(token)


def note_families_read(family_ids) -> None:
    """Called wherever read rows are written: the page-read fallback
    (audit.middleware.FamilyPageReadMiddleware) then knows the request logged these already."""
    seen = _families_read.get()
    if seen is not None:
        seen.update(int(f) for f in family_ids if f is not None)


def families_read() -> frozenset[int]:
    return frozenset(_families_read.get() or ())


def note_family_refused(family_id: int) -> bool:
    """Inside a request, remember the restricted family refused and return True (the request's
    refusal event will name it); outside one, return False (the caller writes its own event)."""
    refused = _families_refused.get()
    if refused is None:
        return False
    refused.append(int(family_id))
    return True


def families_refused() -> tuple[int, ...]:
    return tuple(_families_refused.get() or ())


class AuditRouteMiddleware:
    """Records `METHOD /path` (never the query string, which may carry search terms)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        token = _families_read.set(set())
        refused_token = _families_refused.set([])
        try:
            with audit_route(f"{request.method} {request.path}"):
                return self.get_response(request)
        finally:
            _families_refused.reset(refused_token)
            _families_read.reset(token)
