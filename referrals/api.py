"""Referrals over the API. The confidential referrer (`referrer_name`, `referrer_contact`,
`supporting_professional`) is accepted from and shown to the owning team only: for anyone
else the keys are absent from the response, not merely empty."""

from __future__ import annotations

import django_filters
from rest_framework import serializers

from cases.access import sees_confidential_referrer, visible_families
from cases.api.base import ServiceViewSet, UpdatedSinceFilterSet
from cases.models import Family

from . import selectors, services
from .models import Concern, Referral

CONFIDENTIAL_FIELDS = ("referrer_name", "referrer_contact", "supporting_professional")


class ReferralSerializer(serializers.ModelSerializer):
    family = serializers.PrimaryKeyRelatedField(queryset=Family.objects.none())
    concerns = serializers.ListField(child=serializers.ChoiceField(choices=Concern.choices), allow_empty=False)
    priority = serializers.CharField(read_only=True, help_text="From the concerns, never from the source.")

    class Meta:
        model = Referral
        fields = [
            "id",
            "family",
            "received_at",
            "source",
            "concerns",
            "priority",
            "summary",
            "decision",
            "decision_at",
            *CONFIDENTIAL_FIELDS,
            "created_at",
            "updated_at",
            "version",
        ]
        read_only_fields = ["created_at", "updated_at"]
        extra_kwargs = {
            "received_at": {"required": False},
            "referrer_name": {"help_text": "Confidential: owning team only."},
            "referrer_contact": {"help_text": "Confidential: owning team only."},
            "supporting_professional": {"help_text": "Confidential: owning team only."},
        }

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        request = self.context.get("request")
        if self.instance is not None and not isinstance(self.instance, list | tuple):
            self.fields["family"].read_only = True
        elif request is not None:
            self.fields["family"].queryset = visible_families(request.user)

    def _user(self):
        request = self.context.get("request")
        return getattr(request, "user", None)

    def to_representation(self, instance: Referral):
        data = super().to_representation(instance)
        user = self._user()
        if user is None or not sees_confidential_referrer(user, instance.family):
            for field in CONFIDENTIAL_FIELDS:
                data.pop(field, None)
        return data

    def validate(self, attrs):
        user = self._user()
        family = attrs.get("family") or getattr(self.instance, "family", None)
        if user is not None and family is not None and not sees_confidential_referrer(user, family):
            sent = [f for f in CONFIDENTIAL_FIELDS if attrs.get(f)]
            if sent:
                raise serializers.ValidationError(
                    dict.fromkeys(sent, "Only the owning team records the confidential referrer.")
                )
        return attrs


class ReferralFilter(UpdatedSinceFilterSet):
    family = django_filters.NumberFilter(field_name="family_id")

    class Meta:
        model = Referral
        fields = ["source", "decision"]


class ReferralViewSet(ServiceViewSet):
    serializer_class = ReferralSerializer
    filterset_class = ReferralFilter

    def selector(self):
        return selectors.referral_list(user=self.request.user).order_by("id")

    def perform_service_create(self, data):
        family = data.pop("family")
        return services.referral_create(actor=self.request.user, family=family, **data)

    def perform_service_update(self, instance, data):
        data.pop("family", None)
        return services.referral_update(actor=self.request.user, referral=instance, data=data)
