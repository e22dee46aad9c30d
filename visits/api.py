"""Visits and appointments over the API. Partners may add both for members of families shared
with them; the agency defaults to the caller's own."""

from __future__ import annotations

import django_filters
from rest_framework import serializers
from rest_framework.permissions import SAFE_METHODS

from cases.access import restrict_to_visible, visible_families
from cases.api.base import FastReadMixin, ServiceViewSet, UpdatedSinceFilterSet, UtcIsoDateTimeFilter
from cases.models import Agency, Family, Member

from . import selectors, services
from .models import Appointment, Visit


class MemberIdsField(serializers.ManyRelatedField):
    """A list of member ids, read from the `<field>_ids` array the visits selector annotates (no
    query, no Member objects), else from a prefetch, else from the relation. DRF's own field
    clones a queryset per row (`.all()`) and turns each member into an object to read its id."""

    def get_attribute(self, instance):
        ids = getattr(instance, selectors.CHILD_ID_ANNOTATIONS[self.source], None)
        if ids is not None:
            return ids
        cache = getattr(instance, "_prefetched_objects_cache", None) or {}
        members = cache[self.source] if self.source in cache else super().get_attribute(instance)
        return [member.pk for member in members]

    def to_representation(self, ids):
        return list(ids)


class VisitSerializer(FastReadMixin, serializers.ModelSerializer):
    family = serializers.PrimaryKeyRelatedField(queryset=Family.objects.none())
    agency = serializers.PrimaryKeyRelatedField(
        queryset=Agency.objects.all(),
        required=False,
        help_text="Always the writer's agency: leave it out (another agency's id is refused with 400).",
    )
    children_seen = MemberIdsField(
        child_relation=serializers.PrimaryKeyRelatedField(queryset=Member.objects.none()), required=False
    )
    children_seen_alone = MemberIdsField(
        child_relation=serializers.PrimaryKeyRelatedField(queryset=Member.objects.none()), required=False
    )

    class Meta:
        model = Visit
        fields = [
            "id",
            "family",
            "practitioner",
            "agency",
            "planned",
            "purpose",
            "expected_outcome",
            "purpose_shared_with_family",
            "scheduled_for",
            "status",
            "outcome",
            "next_steps",
            "children_seen",
            "children_seen_alone",
            "voice_of_child",
            "home_conditions",
            "created_at",
            "updated_at",
            "version",
        ]
        read_only_fields = ["practitioner", "created_at", "updated_at"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        request = self.context.get("request")
        if request is None or request.method in SAFE_METHODS:
            # Reading only: the querysets below are what input is checked against. (The browsable
            # API renders its forms with the method set to POST/PUT, so they still get them.)
            return
        members = restrict_to_visible(Member.objects.all(), request.user)
        self.fields["children_seen"].child_relation.queryset = members
        self.fields["children_seen_alone"].child_relation.queryset = members
        if self.instance is not None and not isinstance(self.instance, list | tuple):
            self.fields["family"].read_only = True
            self.fields["agency"].read_only = True
        else:
            self.fields["family"].queryset = visible_families(request.user)


class VisitFilter(UpdatedSinceFilterSet):
    family = django_filters.NumberFilter(field_name="family_id")
    agency = django_filters.NumberFilter(field_name="agency_id")
    scheduled_after = UtcIsoDateTimeFilter(field_name="scheduled_for", lookup_expr="gte")
    scheduled_before = UtcIsoDateTimeFilter(field_name="scheduled_for", lookup_expr="lt")

    class Meta:
        model = Visit
        fields = ["status", "planned"]


class VisitViewSet(ServiceViewSet):
    serializer_class = VisitSerializer
    filterset_class = VisitFilter

    def selector(self):
        return selectors.visit_list(user=self.request.user).order_by("id")

    def perform_service_create(self, data):
        family = data.pop("family")
        return services.visit_log(actor=self.request.user, family=family, **data)

    def perform_service_update(self, instance, data):
        data.pop("family", None)
        data.pop("agency", None)
        seen = data.pop("children_seen", None)
        alone = data.pop("children_seen_alone", None)
        return services.visit_update(
            actor=self.request.user, visit=instance, data=data, children_seen=seen, children_seen_alone=alone
        )


class AppointmentSerializer(FastReadMixin, serializers.ModelSerializer):
    member = serializers.PrimaryKeyRelatedField(queryset=Member.objects.none())
    agency = serializers.PrimaryKeyRelatedField(
        queryset=Agency.objects.all(),
        required=False,
        help_text="The agency that holds the appointment (it may not be yours); defaults to the caller's agency.",
    )
    recorded_by = serializers.PrimaryKeyRelatedField(
        source="created_by",
        read_only=True,
        allow_null=True,
        help_text="The user who recorded the appointment (null for records imported without one).",
    )

    class Meta:
        model = Appointment
        fields = [
            "id",
            "member",
            "family",
            "agency",
            "kind",
            "scheduled_for",
            "critical",
            "status",
            "notes",
            "recorded_by",
            "created_at",
            "updated_at",
            "version",
        ]
        read_only_fields = ["family", "created_at", "updated_at"]
        # The exact-duplicate rule is the service's (a 409 naming the one saved), not DRF's
        # unique-together check, which would also make `agency` required.
        validators = []

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        request = self.context.get("request")
        if request is not None and request.method in SAFE_METHODS:
            return  # reading only (see VisitSerializer)
        if self.instance is not None and not isinstance(self.instance, list | tuple):
            self.fields["member"].read_only = True
            self.fields["agency"].read_only = True
        elif request is not None:
            self.fields["member"].queryset = restrict_to_visible(Member.objects.select_related("family"), request.user)


class AppointmentFilter(UpdatedSinceFilterSet):
    family = django_filters.NumberFilter(field_name="family_id")
    member = django_filters.NumberFilter(field_name="member_id")
    agency = django_filters.NumberFilter(field_name="agency_id")
    scheduled_after = UtcIsoDateTimeFilter(field_name="scheduled_for", lookup_expr="gte")
    scheduled_before = UtcIsoDateTimeFilter(field_name="scheduled_for", lookup_expr="lt")

    class Meta:
        model = Appointment
        fields = ["status", "kind", "critical"]


class AppointmentViewSet(ServiceViewSet):
    serializer_class = AppointmentSerializer
    filterset_class = AppointmentFilter

    def selector(self):
        return selectors.appointment_list(user=self.request.user).order_by("id")

    def perform_service_create(self, data):
        return services.appointment_record(actor=self.request.user, **data)

    def perform_service_update(self, instance, data):
        data.pop("member", None)
        data.pop("agency", None)
        return services.appointment_update(actor=self.request.user, appointment=instance, data=data)
