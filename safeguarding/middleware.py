"""Response headers every page and API response carries."""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse
from django.utils.cache import add_never_cache_headers


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
