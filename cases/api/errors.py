"""Turn service-layer errors into API responses a partner's developer can act on.

Services raise Django's ValidationError (-> 400 with field errors) and PermissionDenied
(-> 403, only ever for a record the caller can already see; unseen records are 404 upstream),
and ConflictError (-> 409, with what is saved now and what the caller tried).
"""

from __future__ import annotations

from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from audit.services import audit_reads
from cases.service_utils import ConflictError


def _as_field_errors(exc: DjangoValidationError) -> dict | list:
    if hasattr(exc, "error_dict"):
        return {
            ("non_field_errors" if field == "__all__" else field): [str(m) for e in errors for m in e.messages]
            for field, errors in exc.error_dict.items()
        }
    return {"non_field_errors": list(exc.messages)}


def _audit_conflict_read(context, exc: ConflictError) -> None:
    """A 409 shows what is saved now: a read of the record, written like any other read.

    The record is fetched again through the view's own selector (`get_object`, or for a create
    refused as a duplicate the record it names, `current["id"]`), so only a record the caller
    may see is logged; one that has left the caller's sight since is not."""
    view = context.get("view")
    request = context.get("request")
    if view is None or request is None or not hasattr(view, "get_object"):
        return
    lookup = getattr(view, "lookup_url_kwarg", None) or getattr(view, "lookup_field", "pk")
    try:
        if lookup in getattr(view, "kwargs", {}):
            instance = view.get_object()
        elif str(exc.current.get("id", "")).isdigit():
            instance = view.get_queryset().filter(pk=exc.current["id"]).first()
        else:
            return
    except (Http404, exceptions.APIException):
        return
    if instance is None:
        return
    family_attr = getattr(view, "audit_family_attr", "family_id")
    audit_reads(actor=request.user, model=type(instance), rows=[(instance.pk, getattr(instance, family_attr, None))])


def exception_handler(exc, context):
    if isinstance(exc, ConflictError):
        _audit_conflict_read(context, exc)
        # 409 with both sides, so the caller loses nothing: what is saved now and what it tried.
        return Response(
            {"detail": exc.message, "current": exc.current, "attempted": exc.attempted},
            status=status.HTTP_409_CONFLICT,
        )
    if isinstance(exc, DjangoValidationError):
        exc = exceptions.ValidationError(_as_field_errors(exc))
    return drf_exception_handler(exc, context)
