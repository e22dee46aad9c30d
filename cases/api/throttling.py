"""Rate limits on the API, per token (each token belongs to one user), held in the shared cache.

DRF's own classes read their rates once, when the module is imported; these read
`REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"]` on each request, so settings (and tests) can change them.
"""

from __future__ import annotations

from django.conf import settings
from rest_framework import throttling


def _rate(scope: str) -> str | None:
    return settings.REST_FRAMEWORK.get("DEFAULT_THROTTLE_RATES", {}).get(scope)


class PerUserRateThrottle(throttling.UserRateThrottle):
    def get_rate(self) -> str | None:
        return _rate(self.scope)


class AnonRateThrottle(throttling.AnonRateThrottle):
    def get_rate(self) -> str | None:
        return _rate(self.scope)
