"""Flags (read) and escalation prompts (read, and the decisions on them) over the API."""

from __future__ import annotations

import django_filters
from django.core.exceptions import PermissionDenied
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from cases.api.base import AuditReadsMixin, UpdatedSinceFilterSet

from . import selectors
from .models import EscalationPrompt, Flag, PromptEvent
from .permissions import may_decide_prompt, who_decides
from .rules import RULE_CHOICES
from .services.prompts import prompt_acknowledge, prompt_action, prompt_escalate


class FlagSerializer(serializers.ModelSerializer):
    class Meta:
        model = Flag
        fields = [
            "id",
            "family",
            "member",
            "rule",
            "severity",
            "status",
            "detail",
            "evidence",
            "first_seen",
            "last_seen",
            "resolved_at",
            "updated_at",
        ]


class FlagFilter(UpdatedSinceFilterSet):
    family = django_filters.NumberFilter(field_name="family_id")
    member = django_filters.NumberFilter(field_name="member_id")
    rule = django_filters.ChoiceFilter(choices=RULE_CHOICES)

    class Meta:
        model = Flag
        fields = ["status", "severity"]


class FlagViewSet(AuditReadsMixin, viewsets.ReadOnlyModelViewSet):
    serializer_class = FlagSerializer
    filterset_class = FlagFilter

    def get_queryset(self):
        return selectors.flag_list(user=self.request.user).order_by("id")


class PromptEventSerializer(serializers.ModelSerializer):
    class Meta:
        model = PromptEvent
        fields = ["at", "actor", "kind", "from_status", "to_status", "action_taken", "rationale", "reason"]


class EscalationSerializer(serializers.ModelSerializer):
    rule = serializers.CharField(source="flag.rule", read_only=True)
    severity = serializers.CharField(source="flag.severity", read_only=True)
    history = PromptEventSerializer(source="events", many=True, read_only=True)
    escalated_to = serializers.SerializerMethodField()

    class Meta:
        model = EscalationPrompt
        fields = [
            "id",
            "flag",
            "family",
            "rule",
            "severity",
            "level",
            "assigned_to",
            "status",
            "due",
            "action_taken",
            "rationale",
            "escalated_from",
            "escalated_to",
            "history",
            "created_at",
            "updated_at",
        ]

    def get_escalated_to(self, obj) -> int | None:
        try:
            return obj.escalated_to.pk  # select_related by the selector: no query per row
        except EscalationPrompt.escalated_to.RelatedObjectDoesNotExist:
            return None


class ActionSerializer(serializers.Serializer):
    action_taken = serializers.CharField()
    rationale = serializers.CharField()


class EscalateSerializer(serializers.Serializer):
    reason = serializers.CharField()


class EscalationFilter(UpdatedSinceFilterSet):
    family = django_filters.NumberFilter(field_name="family_id")
    assigned_to = django_filters.NumberFilter(field_name="assigned_to_id")
    rule = django_filters.ChoiceFilter(field_name="flag__rule", choices=RULE_CHOICES)
    severity = django_filters.CharFilter(field_name="flag__severity")

    class Meta:
        model = EscalationPrompt
        fields = ["status", "level"]


class EscalationViewSet(AuditReadsMixin, viewsets.ReadOnlyModelViewSet):
    """Escalation prompts. Decisions: `acknowledge`, `action` (with `action_taken` and `rationale`),
        `escalate` (with a `reason`: opens the next level's prompt). An invalid transition is 400 and
        changes nothing. Only the prompt's assignee, or someone above them in the chain, decides
    (`escalation.permissions`); anyone else who can see it gets 403 saying who can."""

    serializer_class = EscalationSerializer
    filterset_class = EscalationFilter

    def get_queryset(self):
        return selectors.prompt_list(user=self.request.user).order_by("id")

    def _prompt_to_decide(self):
        """The prompt, if the caller may decide it: an outsider gets 404 (`get_object`), anyone
        else who can see it 403 saying who can decide, before their body is even read."""
        prompt = self.get_object()
        if not may_decide_prompt(self.request.user, prompt):
            raise PermissionDenied(who_decides(prompt))
        return prompt

    def _respond(self, prompt, code=status.HTTP_200_OK):
        prompt = selectors.prompt_get_for_user(user=self.request.user, prompt_id=prompt.pk)
        return Response(self.get_serializer(prompt).data, status=code)

    @extend_schema(request=None, responses=EscalationSerializer)
    @action(detail=True, methods=["post"])
    def acknowledge(self, request, pk=None):
        prompt = prompt_acknowledge(actor=request.user, prompt=self._prompt_to_decide())
        return self._respond(prompt)

    @extend_schema(request=ActionSerializer, responses=EscalationSerializer)
    @action(detail=True, methods=["post"], url_path="action", url_name="action")
    def take_action(self, request, pk=None):
        prompt = self._prompt_to_decide()
        data = ActionSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        prompt = prompt_action(actor=request.user, prompt=prompt, **data.validated_data)
        return self._respond(prompt)

    @extend_schema(
        request=EscalateSerializer,
        responses={201: EscalationSerializer},
        description="Escalate to the next level; the response is the new prompt at that level.",
    )
    @action(detail=True, methods=["post"])
    def escalate(self, request, pk=None):
        prompt = self._prompt_to_decide()
        data = EscalateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        successor = prompt_escalate(actor=request.user, prompt=prompt, reason=data.validated_data["reason"])
        return self._respond(successor, status.HTTP_201_CREATED)
