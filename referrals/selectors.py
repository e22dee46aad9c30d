from __future__ import annotations

from django.db.models import QuerySet
from django.shortcuts import get_object_or_404

from cases.access import restrict_to_visible
from cases.models import User

from .models import Referral


def referral_list(*, user: User) -> QuerySet[Referral]:
    # `family` is selected so deciding who sees the confidential referrer costs no query per row.
    return restrict_to_visible(Referral.objects.all(), user).select_related("family")


def referral_get_for_user(*, user: User, referral_id) -> Referral:
    return get_object_or_404(referral_list(user=user), pk=referral_id)
