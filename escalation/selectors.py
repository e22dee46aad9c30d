from __future__ import annotations

from django.db.models import Prefetch, QuerySet
from django.shortcuts import get_object_or_404

from cases.access import restrict_to_visible
from cases.models import User

from .models import EscalationPrompt, Flag, PromptEvent


def flag_list(*, user: User) -> QuerySet[Flag]:
    return restrict_to_visible(Flag.objects.all(), user).select_related("family", "member")


def flag_get_for_user(*, user: User, flag_id) -> Flag:
    return get_object_or_404(flag_list(user=user), pk=flag_id)


def prompt_list(*, user: User) -> QuerySet[EscalationPrompt]:
    return (
        restrict_to_visible(EscalationPrompt.objects.all(), user)
        .select_related("flag", "family", "assigned_to", "escalated_to")
        .prefetch_related(Prefetch("events", queryset=PromptEvent.objects.select_related("actor").order_by("at", "id")))
    )


def prompt_get_for_user(*, user: User, prompt_id) -> EscalationPrompt:
    return get_object_or_404(prompt_list(user=user), pk=prompt_id)
