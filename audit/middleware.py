"""Every refused request (401, 403 and 404) is written to the security log."""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse

from .security import SecurityEventKind, security_event

REFUSED = frozenset({401, 403, 404})


class RefusedAccessMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if response.status_code in REFUSED:
            user = getattr(request, "user", None)  # DRF puts the token's user here once it has authenticated
            security_event(
                SecurityEventKind.REFUSED,
                request=request,
                user=user if user is not None and user.is_authenticated else None,
                status_code=response.status_code,
            )
        return response
