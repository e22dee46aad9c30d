"""The route of the current request or command, for audit rows, without threading it
through every service signature."""

from __future__ import annotations

import contextvars
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from django.http import HttpRequest, HttpResponse

_route: contextvars.ContextVar[str] = contextvars.ContextVar("audit_route", default="")


def current_route() -> str:
    return _route.get()


@contextmanager
def audit_route(route: str) -> Iterator[None]:
    token = _route.set(route)
    try:
        yield
    finally:
        _route.reset(token)


class AuditRouteMiddleware:
    """Records `METHOD /path` (never the query string, which may carry search terms)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        with audit_route(f"{request.method} {request.path}"):
            return self.get_response(request)
