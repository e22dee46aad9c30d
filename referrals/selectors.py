from __future__ import annotations

from django.db.models import QuerySet

from cases.access import get_visible_or_404, restrict_to_visible
from cases.models import User

from .models import Referral


def referral_list(*, user: User) -> QuerySet[Referral]:
    # `family` is selected so deciding who sees the confidential referrer costs no query per row.
    return restrict_to_visible(Referral.objects.all(), user).select_related("family")


def referral_get_for_user(*, user: User, referral_id) -> Referral:
    return get_visible_or_404(referral_list(user=user), user=user, pk=referral_id)
