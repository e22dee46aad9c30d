"""Two things every request goes through on its way out.

- `RefusedAccessMiddleware`: every refused request (401, 403 and 404, and an anonymous 429) is
  written to the security log (anonymous repeats aggregated: audit.security).
- `FamilyPageReadMiddleware`: a page or endpoint about one family that answered with the family's
  record (a form that lists its members, the access log, a conflict showing what is saved now)
  leaves a read row for the family even where its view wrote none (issue 14, item 12; found by
  tests/test_url_walker.py, which walks every route).
"""

from __future__ import annotations

import re
from collections.abc import Callable

from django.apps import apps
from django.core.exceptions import FieldDoesNotExist
from django.http import HttpRequest, HttpResponse

from .context import families_read, families_refused
from .models import AuditAction
from .security import SecurityEventKind, security_event
from .services import audit_reads

REFUSED = frozenset({401, 403, 404})
# The URL kwargs that name a family: the pages' `family_id`, the API's nested `family_pk`.
FAMILY_KWARGS = ("family_id", "family_pk")


class RefusedAccessMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        user = getattr(request, "user", None)  # DRF puts the token's user here once it has authenticated
        signed_in = user is not None and user.is_authenticated
        # A 429 is logged when an anonymous caller's address was held back
        # (safeguarding.middleware.AnonymousRateLimitMiddleware). Not a partner system over its
        # own rate (no security event, and a row per request), nor the lock-out page (logged as
        # a lock-out by accounts).
        held_back = getattr(response, "anonymous_rate_limited", False)
        # A restricted family refused to this user (cases.access.note_restricted_refusal): one
        # event, naming the family for its manager, with the address, whatever the status.
        refused = families_refused()
        if response.status_code in REFUSED or held_back or refused:
            security_event(
                SecurityEventKind.REFUSED,
                request=request,
                user=user if signed_in else None,
                status_code=response.status_code,
                family_id=refused[0] if refused else None,
            )
        return response


def shows_the_record(response: HttpResponse) -> bool:
    """A response that carries what the view found: a success with a body (a page, a form, a
    record), a page re-shown with its errors, or a conflict with what is saved now. Never a
    refusal (a 404 logs no read, only a security event), a redirect or an empty 204."""
    status = response.status_code
    if status in (200, 203, 206, 409):
        return True
    return status in (400, 422) and response.get("Content-Type", "").startswith("text/html")


_ADMIN_RECORD = re.compile(r"^/admin/(?P<app>\w+)/(?P<model>\w+)/(?P<pk>\d+)/")


def admin_record_family(path: str) -> int | None:
    """The family of the record an admin page is about (`/admin/<app>/<model>/<id>/...`: its
    change page, its history, one entry of its history), where the record belongs to a family.
    One query, on such admin pages only."""
    found = _ADMIN_RECORD.match(path)
    if found is None:
        return None
    try:
        model = apps.get_model(found["app"], found["model"])
    except LookupError:
        return None
    if model._meta.label_lower == "cases.family":
        return int(found["pk"])
    try:
        model._meta.get_field("family")
    except FieldDoesNotExist:
        return None
    return model._default_manager.filter(pk=found["pk"]).values_list("family_id", flat=True).first()


class FamilyPageReadMiddleware:
    """One VIEW row for the family of a `/families/<id>/...` URL (a page or the nested API), or of
    an admin page about one of its records, whose response showed the record, unless the request
    already wrote a read row for that family (`audit.context.note_families_read`, called by every
    writer of read rows). Views that log their records in detail keep doing so; this is the floor
    under every other page, so a new form that lists a family's members cannot ship without a trace.

    Must run inside `audit.context.AuditRouteMiddleware` (the request's record of families read)
    and after authentication (the actor)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        match = getattr(request, "resolver_match", None)
        if match is None or not shows_the_record(response):
            return response
        user = getattr(request, "user", None)  # DRF sets the token's user on the Django request too
        if user is None or not user.is_authenticated:
            return response
        family_id = next((match.kwargs[k] for k in FAMILY_KWARGS if k in match.kwargs), None)
        if family_id is None and "admin" in match.namespaces:
            family_id = admin_record_family(request.path_info)
        if family_id is None:
            return response
        family_id = int(family_id)
        if family_id not in families_read():
            audit_reads(
                actor=user,
                model="cases.family",
                rows=[(family_id, family_id)],
                action=AuditAction.VIEW,
            )
        return response
