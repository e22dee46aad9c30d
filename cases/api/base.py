"""Shared pieces of the v1 API: the `updated_since` filter every list has, and a viewset whose
writes go through a service (serializers only parse and present; they hold no rules)."""

from __future__ import annotations

import datetime as dt
from typing import Any

import django_filters
from django import forms
from django.core.exceptions import FieldDoesNotExist
from django.db.models import Model, Q, QuerySet
from django.http import Http404
from django.utils import timezone
from rest_framework import ISO_8601, exceptions, fields, mixins, relations, serializers, status, viewsets
from rest_framework.fields import SkipField
from rest_framework.permissions import SAFE_METHODS
from rest_framework.relations import PKOnlyObject
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.settings import api_settings

from audit.reads import logged_reads
from audit.services import audit_reads
from cases.access import current_shares, note_restricted_refusal, restrict_to_visible
from cases.models import Family, Role, User


def visible_choices(queryset: QuerySet, *, user: User, family: Family | None) -> QuerySet:
    """The rows of a related field's queryset that `user` may choose (issue 14, item 13).

    People: active users of the family's owning team and of the agencies with a current share of it
    (without a family: the caller's own team, or agency). Families, and anything of a family
    (members, flags...): those the caller may see (`cases.access`). Anything else (agencies, teams)
    is a public list and is left as it is."""
    model = queryset.model
    if issubclass(model, User):
        active = queryset.filter(is_active=True)
        if family is not None:
            shared = current_shares().filter(family_id=family.pk).values("agency_id")
            return active.filter(Q(team_id=family.team_id) | Q(role=Role.PARTNER, agency_id__in=shared))
        if user.team_id is not None:
            return active.filter(team_id=user.team_id)
        if user.agency_id is not None:
            return active.filter(agency_id=user.agency_id)
        return active  # an admin, who manages users
    if issubclass(model, Family):
        return restrict_to_visible(queryset, user, family_field="")
    try:
        family_field = model._meta.get_field("family")
    except FieldDoesNotExist:
        return queryset
    if family_field.is_relation and family_field.related_model is Family:
        return restrict_to_visible(queryset, user)
    return queryset


def limit_related_choices(serializer: serializers.BaseSerializer, *, user: User) -> None:
    """Narrow every writable related field of `serializer` to `visible_choices`."""
    if isinstance(serializer, serializers.ListSerializer) or not hasattr(serializer, "fields"):
        return
    instance = serializer.instance
    family = serializer.context.get("family")
    if family is None and isinstance(instance, Family):
        family = instance
    if family is None and instance is not None and not isinstance(instance, list | tuple | QuerySet):
        family = getattr(instance, "family", None)
    for field in serializer.fields.values():
        relation = field.child_relation if isinstance(field, relations.ManyRelatedField) else field
        if not isinstance(relation, relations.RelatedField) or field.read_only or relation.queryset is None:
            continue
        relation.queryset = visible_choices(relation.queryset, user=user, family=family)


class UtcIsoDateTimeField(django_filters.fields.IsoDateTimeField):
    """An ISO 8601 date-time, turned to UTC: PostgreSQL accepts offsets only up to ±15:59, and an
    offset of 16 hours or more (valid ISO 8601) must be a 400, not a database error."""

    default_error_messages = {"invalid": "Enter an ISO 8601 date-time, e.g. 2026-11-23T09:00:00Z."}

    def to_python(self, value):
        parsed = super().to_python(value)
        if parsed is None:
            return None
        if timezone.is_naive(parsed):
            parsed = timezone.make_aware(parsed)
        try:
            return parsed.astimezone(dt.UTC)
        except (OverflowError, ValueError) as exc:
            raise forms.ValidationError(self.error_messages["invalid"], code="invalid") from exc


class UtcIsoDateTimeFilter(django_filters.IsoDateTimeFilter):
    field_class = UtcIsoDateTimeField


class UpdatedSinceFilterSet(django_filters.FilterSet):
    """`?updated_since=` (ISO 8601) on every list, for incremental sync (DESIGN 5).

    Filters on record ids (not model choices) so an id the caller cannot see behaves exactly
    like one that does not exist: an empty list, never a different error.
    """

    updated_since = UtcIsoDateTimeFilter(
        field_name="updated_at", lookup_expr="gte", label="Only records changed at or after this time (ISO 8601)."
    )


class FastReadMixin:
    """A ModelSerializer that writes its records out several times faster, with the same output.

    DRF presents each field of each row through `field.get_attribute` (a walk of the source, a
    `PKOnlyObject` for every foreign key) and `field.to_representation` (a date-time looks up the
    current time zone every time): on a 50-row page of 19 fields that is about a thousand calls
    and, after the queries, the largest part of a list request. Here each serializer works out
    once, on first use, how to read each field: a plain model column is read by its attribute
    name (`family_id` for a primary-key field) and converted as the DRF field would (`str`,
    `int`, the field's own `to_representation`, or an ISO 8601 date-time in the same time zone,
    `Z` for UTC); anything else (nested serializers, method fields, custom fields, sources that
    are not a column of the model) goes through DRF's own code. The keys, their order and the
    values are DRF's, which the API contract tests pin.
    """

    def to_representation(self, instance):
        model = self.Meta.model
        if not isinstance(instance, model):  # e.g. a dict: DRF's own path
            return super().to_representation(instance)
        plan = self.__dict__.get("_fast_read_plan")
        if plan is None:
            plan = self._fast_read_plan = self._build_fast_read_plan(model)
        ret = {}
        for name, attname, convert, field in plan:
            if attname is not None:
                value = getattr(instance, attname)
                ret[name] = None if value is None else convert(value)
                continue
            # As rest_framework.serializers.Serializer.to_representation.
            try:
                attribute = field.get_attribute(instance)
            except SkipField:
                continue
            check_for_none = attribute.pk if isinstance(attribute, PKOnlyObject) else attribute
            ret[name] = None if check_for_none is None else field.to_representation(attribute)
        return ret

    def _build_fast_read_plan(self, model) -> list[tuple]:
        plan = []
        for field in self._readable_fields:
            attname, convert = self._fast_reader(model, field)
            plan.append((field.field_name, attname, convert, field))
        return plan

    @staticmethod
    def _fast_reader(model, field) -> tuple[str | None, Any]:
        """(attribute name, converter) for a field read straight off the model, else (None, None)."""
        if field.source == "*" or len(field.source_attrs) != 1:
            return None, None
        try:
            model_field = model._meta.get_field(field.source)
        except FieldDoesNotExist:
            return None, None
        if not getattr(model_field, "concrete", False) or model_field.many_to_many or model_field.one_to_many:
            return None, None
        if model_field.is_relation:
            # A foreign key as its id: what PrimaryKeyRelatedField gives through PKOnlyObject.
            if type(field) is relations.PrimaryKeyRelatedField and field.pk_field is None:
                return model_field.attname, _identity
            return None, None
        if type(field) is fields.CharField:
            return model_field.attname, str
        if type(field) is fields.IntegerField:
            return model_field.attname, int
        if type(field) is fields.DateTimeField:
            return model_field.attname, _datetime_converter(field)
        plain = not isinstance(field, relations.RelatedField | relations.ManyRelatedField)
        if plain and type(field).get_attribute is fields.Field.get_attribute:
            # A value field reading the column as DRF would (e.g. choices, booleans, dates).
            return model_field.attname, field.to_representation
        return None, None


def _identity(value):
    return value


def _datetime_converter(field: fields.DateTimeField):
    """DateTimeField.to_representation with the format and time zone looked up once, not per value."""
    slow = field.to_representation
    output_format = getattr(field, "format", api_settings.DATETIME_FORMAT)
    field_timezone = field.timezone if hasattr(field, "timezone") else field.default_timezone()
    if output_format is None or output_format.lower() != ISO_8601 or field_timezone is None:
        return slow

    def convert(value):
        if type(value) is dt.datetime and value.utcoffset() is not None:  # aware, as from the database
            try:
                text = value.astimezone(field_timezone).isoformat()
            except OverflowError:
                return slow(value)  # DRF's own error
            return text[:-6] + "Z" if text.endswith("+00:00") else text
        return slow(value)

    return convert


def parse_if_match(header: str | None) -> int | None:
    """The version in an `If-Match: "3"` header (weak `W/"3"` accepted); None without one."""
    if not header or header.strip() == "*":
        return None
    value = header.split(",")[0].strip().removeprefix("W/").strip('"')
    if not (value.isascii() and value.isdigit()) or len(value) > 18:
        raise exceptions.ValidationError({"If-Match": ['Send the ETag from the record, for example "3".']})
    return int(value)


def with_etag(response: Response, instance: Model) -> Response:
    """The record's version as its ETag, for `If-Match` on the next change."""
    version = getattr(instance, "version", None)
    if version is not None:
        response["ETag"] = f'"{version}"'
    return response


class AuditReadsMixin:
    """Every record a GET returns is written to the audit log as a VIEW: a list's page by the
    query that reads it (audit.reads), the one record of a detail by one INSERT. `audit_family_attr` names the attribute
    holding each record's family id. Only records already fetched through a selector are
    logged, so a 404 logs no read."""

    audit_family_attr = "family_id"

    def _audit(self, objects) -> None:
        if self.request.method not in ("GET", "HEAD") or not objects:
            return
        audit_reads(
            actor=self.request.user,
            model=type(objects[0]),
            rows=[(obj.pk, getattr(obj, self.audit_family_attr)) for obj in objects],
        )

    def paginate_queryset(self, queryset):
        paginator = self.paginator
        if paginator is not None and self.request.method in ("GET", "HEAD") and isinstance(queryset, QuerySet):
            # The page's read rows are written by the query that reads the page (audit.reads).
            # A cursor page reads one row past the page, not shown and not logged: only the first
            # page-size rows are. Any paginator without a page size (limit/offset) reads what it shows.
            page_size = getattr(paginator, "get_page_size", None)
            queryset = logged_reads(
                queryset,
                actor=self.request.user,
                family=self.audit_family_attr,
                first=page_size(self.request) if page_size else None,
            )
            return super().paginate_queryset(queryset)
        page = super().paginate_queryset(queryset)
        if page is not None:
            self._audit(list(page))
        return page

    def get_object(self):
        try:
            obj = super().get_object()
        except Http404:
            # A miss on a record of a restricted family is a refused attempt its manager sees.
            lookup = self.kwargs.get(self.lookup_url_kwarg or self.lookup_field)
            family_field = "" if self.audit_family_attr in ("pk", "id") else self.audit_family_attr.removesuffix("_id")
            note_restricted_refusal(
                user=self.request.user, model=self.get_queryset().model, family_field=family_field, pk=lookup
            )
            raise
        self._audit([obj])
        return obj


class ServiceViewSet(
    AuditReadsMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    viewsets.GenericViewSet,
):
    """List/retrieve from a selector; create/update through `perform_service_create/update`."""

    http_method_names = ["get", "post", "patch", "put", "head", "options"]
    output_serializer_class = None

    def selector(self) -> QuerySet:  # pragma: no cover - every subclass defines it
        raise NotImplementedError

    def get_queryset(self) -> QuerySet:
        return self.selector()

    def perform_service_create(self, data: dict[str, Any]) -> Model:
        raise NotImplementedError

    def perform_service_update(self, instance: Model, data: dict[str, Any]) -> Model:
        raise NotImplementedError

    def _respond(self, instance: Model, code: int) -> Response:
        # Re-read through the selector so the response has the same shape (and query cost) as a GET.
        try:
            instance = self.get_queryset().get(pk=instance.pk)
        except instance.DoesNotExist:
            # The change took the record out of the caller's sight (a family transferred to another
            # team): answer with what was saved, as this caller's last sight of it.
            instance.refresh_from_db()
        return with_etag(Response(self.get_serializer(instance).data, status=code), instance)

    def get_serializer(self, *args, **kwargs):
        serializer = super().get_serializer(*args, **kwargs)
        user = getattr(self.request, "user", None)
        if user is not None and user.is_authenticated and self.request.method not in SAFE_METHODS:
            # Only writes read input against the choices; a GET never builds them.
            limit_related_choices(serializer, user=user)
        return serializer

    def retrieve(self, request: Request, *args, **kwargs) -> Response:
        instance = self.get_object()
        return with_etag(Response(self.get_serializer(instance).data), instance)

    def create(self, request: Request, *args, **kwargs) -> Response:
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = dict(serializer.validated_data)
        data.pop("version", None)  # a new record starts at version 1
        instance = self.perform_service_create(data)
        return self._respond(instance, status.HTTP_201_CREATED)

    def update(self, request: Request, *args, **kwargs) -> Response:
        partial = kwargs.pop("partial", False)
        instance = self.get_object()
        serializer = self.get_serializer(instance, data=request.data, partial=partial)
        serializer.is_valid(raise_exception=True)
        data = dict(serializer.validated_data)
        if_match = parse_if_match(request.headers.get("If-Match"))
        if if_match is not None:
            data["version"] = if_match
        before = (getattr(instance, "version", None), getattr(instance, "updated_at", None))
        instance = self.perform_service_update(instance, data)
        if (getattr(instance, "version", None), getattr(instance, "updated_at", None)) == before:
            # Nothing changed, so no CHANGE row; the record is still sent back, so it is a read.
            audit_reads(
                actor=request.user,
                model=type(instance),
                rows=[(instance.pk, getattr(instance, self.audit_family_attr))],
            )
        return self._respond(instance, status.HTTP_200_OK)

    def partial_update(self, request: Request, *args, **kwargs) -> Response:
        kwargs["partial"] = True
        return self.update(request, *args, **kwargs)
