"""Thin API views for the case record: fetch through a selector, write through a service."""

from __future__ import annotations

import django_filters
from django import forms
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import generics, mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response

from audit.services import audit_reads
from cases import selectors, services
from cases.access import visible_family_count
from cases.models import Agency, Family, FamilyShare, InformationGap, Member, Relationship
from core.ids import MAX_ID

from .base import AuditReadsMixin, ServiceViewSet, UpdatedSinceFilterSet, UtcIsoDateTimeField
from .pagination import PageNumberCountPagination
from .serializers import (
    AgencySerializer,
    ChronologyEntrySerializer,
    FamilyMemberSerializer,
    FamilySerializer,
    InformationGapSerializer,
    LeadAssignmentSerializer,
    LeadProfessionalSerializer,
    MemberSerializer,
    MeSerializer,
    RelationshipSerializer,
    ShareRenewSerializer,
    ShareSerializer,
)


class MeView(generics.GenericAPIView):
    serializer_class = MeSerializer
    pagination_class = None

    def get(self, request):
        return Response(self.get_serializer(request.user).data)


class AgencyFilter(UpdatedSinceFilterSet):
    class Meta:
        model = Agency
        fields = ["kind"]


class AgencyViewSet(viewsets.ReadOnlyModelViewSet):
    """Every agency: partners need the ids to record appointments and to name the team around a family."""

    queryset = Agency.objects.order_by("name", "id")
    serializer_class = AgencySerializer
    filterset_class = AgencyFilter


class FamilyFilter(UpdatedSinceFilterSet):
    team = django_filters.NumberFilter(field_name="team_id")
    lead_professional = django_filters.NumberFilter(field_name="lead_professional_id")

    class Meta:
        model = Family
        fields = ["status", "level"]


class FamilyViewSet(ServiceViewSet):
    serializer_class = FamilySerializer
    filterset_class = FamilyFilter
    audit_family_attr = "pk"

    def selector(self):
        if self.action == "list":
            return selectors.family_list_brief(user=self.request.user).order_by("id")
        return selectors.family_list(user=self.request.user).order_by("id")

    def count_unfiltered(self) -> int:
        """The first page's count when nothing narrows the list: every family the caller may see
        (the selector is `visible_families` and no more), counted the cheapest way."""
        return visible_family_count(self.request.user)

    def perform_service_create(self, data):
        return services.family_create(actor=self.request.user, **data)

    def perform_service_update(self, instance, data):
        return services.family_update(actor=self.request.user, family=instance, data=data)


class FamilyScopedMixin:
    """For /families/{family_pk}/...: the family is fetched (and authorised) first, 404 otherwise."""

    _family: Family | None = None

    @property
    def family(self) -> Family:
        if self._family is None:
            self._family = selectors.family_get_for_user(user=self.request.user, family_id=self.kwargs["family_pk"])
        return self._family

    def get_serializer_context(self):
        context = super().get_serializer_context()
        if "family_pk" in self.kwargs and not getattr(self, "swagger_fake_view", False):
            context["family"] = self.family
        return context


class MemberFilter(UpdatedSinceFilterSet):
    family = django_filters.NumberFilter(field_name="family_id")

    class Meta:
        model = Member
        fields = ["role", "lives_in_household"]


class MemberViewSet(ServiceViewSet):
    serializer_class = MemberSerializer
    filterset_class = MemberFilter

    def selector(self):
        return selectors.member_list(user=self.request.user).order_by("id")

    def perform_service_create(self, data):
        family = data.pop("family")
        return services.member_create(actor=self.request.user, family=family, **data)

    def perform_service_update(self, instance, data):
        data.pop("family", None)
        return services.member_update(actor=self.request.user, member=instance, data=data)


class FamilyMemberViewSet(FamilyScopedMixin, MemberViewSet):
    serializer_class = FamilyMemberSerializer

    def selector(self):
        if getattr(self, "swagger_fake_view", False):
            return Member.objects.none()
        return selectors.member_list(user=self.request.user, family=self.family).order_by("id")

    def perform_service_create(self, data):
        data.pop("family", None)
        return services.member_create(actor=self.request.user, family=self.family, **data)


class RelationshipFilter(UpdatedSinceFilterSet):
    class Meta:
        model = Relationship
        fields = ["kind"]


class GapFilter(UpdatedSinceFilterSet):
    class Meta:
        model = InformationGap
        fields = ["reason"]


class ShareFilter(UpdatedSinceFilterSet):
    class Meta:
        model = FamilyShare
        fields = ["agency"]


class RelationshipViewSet(FamilyScopedMixin, mixins.DestroyModelMixin, ServiceViewSet):
    """Who is whose parent or partner, within one family record."""

    serializer_class = RelationshipSerializer
    http_method_names = ["get", "post", "delete", "head", "options"]
    filterset_class = RelationshipFilter

    def selector(self):
        if getattr(self, "swagger_fake_view", False):
            return Relationship.objects.none()
        return selectors.relationship_list(family=self.family)

    def perform_service_create(self, data):
        return services.relationship_create(actor=self.request.user, **data)

    def perform_destroy(self, instance):
        services.relationship_delete(actor=self.request.user, relationship=instance)


class GapViewSet(FamilyScopedMixin, ServiceViewSet):
    """Information gaps: what is not yet known about the family, why, and when to ask again.

    `POST .../gaps/{id}/resolve/` marks one filled. Resolved gaps are listed with `?include_resolved=true`.
    """

    serializer_class = InformationGapSerializer
    http_method_names = ["get", "post", "head", "options"]
    filterset_class = GapFilter

    def selector(self):
        if getattr(self, "swagger_fake_view", False):
            return InformationGap.objects.none()
        include = self.request.query_params.get("include_resolved") in ("1", "true", "yes")
        return selectors.gap_list(family=self.family, include_resolved=include or self.action != "list")

    def perform_service_create(self, data):
        return services.gap_record(actor=self.request.user, family=self.family, **data)

    @extend_schema(request=None, responses=InformationGapSerializer)
    @action(detail=True, methods=["post"])
    def resolve(self, request, *args, **kwargs):
        gap = self.get_object()
        services.gap_resolve(actor=request.user, gap=gap)
        return self._respond(gap, status.HTTP_200_OK)


class ShareViewSet(FamilyScopedMixin, mixins.DestroyModelMixin, ServiceViewSet):
    """Sharing the family with a partner agency. `DELETE` ends the share now: access stops at once,
    the record of the share stays (`ended_at`), and a lead professional of that agency stops being
    lead. `POST .../shares/{id}/renew/ {"ends": "YYYY-MM-DD"}` gives it a new last day."""

    serializer_class = ShareSerializer
    http_method_names = ["get", "post", "delete", "head", "options"]
    filterset_class = ShareFilter

    def selector(self):
        if getattr(self, "swagger_fake_view", False):
            return FamilyShare.objects.none()
        return selectors.share_list(user=self.request.user, family=self.family)

    def perform_service_create(self, data):
        return services.share_create(actor=self.request.user, family=self.family, **data)

    def perform_destroy(self, instance):
        services.share_end(actor=self.request.user, share=instance)

    @extend_schema(request=ShareRenewSerializer, responses=ShareSerializer, summary="Renew a share")
    @action(detail=True, methods=["post"])
    def renew(self, request, *args, **kwargs):
        share = self.get_object()
        serializer = ShareRenewSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        share = services.share_renew(actor=request.user, share=share, ends=serializer.validated_data["ends"])
        return self._respond(share, status.HTTP_200_OK)


class LeadProfessionalView(AuditReadsMixin, FamilyScopedMixin, generics.ListAPIView):
    """`GET`: who has held the lead professional role, newest first. `PUT {"user": id}` sets it
    (`null` clears it); the previous holder's assignment is ended, never deleted."""

    serializer_class = LeadAssignmentSerializer
    filter_backends: list = []
    pagination_class = PageNumberCountPagination  # newest first, and short

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return Family.objects.none()
        return selectors.lead_history(family=self.family)

    def get_object(self):
        # DRF's OPTIONS asks for the object of a view with PUT: here it is the family in the URL.
        return self.family

    @extend_schema(request=LeadProfessionalSerializer, responses=FamilySerializer, summary="Set the lead professional")
    def put(self, request, family_pk):
        serializer = LeadProfessionalSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        unchanged = self.family.lead_professional_id == getattr(serializer.validated_data["user"], "pk", None)
        family = services.lead_professional_set(
            actor=request.user, family=self.family, user=serializer.validated_data["user"]
        )
        family = selectors.family_get_for_user(user=request.user, family_id=family.pk)
        if unchanged:  # no CHANGE row, but the family is sent back: a read
            audit_reads(actor=request.user, model=Family, rows=[(family.pk, family.pk)])
        return Response(FamilySerializer(family, context={"request": request}).data)


class ChronologyParams(forms.Form):
    kind = forms.ChoiceField(choices=[(k, k) for k in selectors.CHRONOLOGY_KINDS], required=False)
    agency = forms.IntegerField(required=False, min_value=1, max_value=MAX_ID)
    updated_since = UtcIsoDateTimeField(required=False)


@extend_schema(
    parameters=[
        OpenApiParameter("kind", str, enum=list(selectors.CHRONOLOGY_KINDS), description="Only entries of this kind."),
        OpenApiParameter("agency", int, description="Only entries from this agency."),
        OpenApiParameter("updated_since", str, description="Only entries whose record changed since (ISO 8601)."),
    ],
)
class ChronologyView(FamilyScopedMixin, generics.ListAPIView):
    """Everything significant about the family across agencies, newest first, derived from the records."""

    serializer_class = ChronologyEntrySerializer
    filter_backends: list = []
    pagination_class = PageNumberCountPagination  # entries are merged from several tables, newest first

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return []
        params = ChronologyParams(self.request.query_params)
        if not params.is_valid():
            raise ValidationError(params.errors)
        data = params.cleaned_data
        return selectors.family_chronology(
            user=self.request.user,
            family=self.family,
            kinds={data["kind"]} if data.get("kind") else None,
            agency_id=data.get("agency"),
            updated_since=data.get("updated_since"),
        )

    def paginate_queryset(self, queryset):
        page = super().paginate_queryset(queryset)
        # The chronology is read from many records at once: one VIEW row for the family's chronology.
        audit_reads(actor=self.request.user, model="cases.chronology", rows=[(self.family.pk, self.family.pk)])
        return page


__all__ = [
    "AgencyViewSet",
    "ChronologyView",
    "FamilyMemberViewSet",
    "FamilyViewSet",
    "GapViewSet",
    "LeadProfessionalView",
    "MeView",
    "MemberViewSet",
    "RelationshipViewSet",
    "ShareViewSet",
]
