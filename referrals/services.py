"""Recording referrals and their decisions."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from cases.access import can_change_family, sees_confidential_referrer
from cases.models import Family, User
from cases.service_utils import audit_create, family_touch, model_update

from .models import Concern, Referral, ReferralDecision

REFERRAL_FIELDS = (
    "received_at",
    "source",
    "referrer_name",
    "referrer_contact",
    "supporting_professional",
    "concerns",
    "summary",
    "decision",
    "decision_at",
)


def _clean_concerns(concerns: Any) -> list[str]:
    if not isinstance(concerns, list | tuple) or not concerns:
        raise ValidationError({"concerns": "Choose at least one concern."})
    unknown = [c for c in concerns if c not in Concern.values]
    if unknown:
        raise ValidationError({"concerns": f"Unknown concern(s) {unknown}; choose from {', '.join(Concern.values)}."})
    return sorted(set(concerns), key=Concern.values.index)


CONFIDENTIAL_FIELDS = ("referrer_name", "referrer_contact", "supporting_professional")


def _refuse_confidential_from_outsiders(actor: User, family: Family, fields: dict[str, Any]) -> None:
    """The confidential referrer is accepted from the owning team only (DESIGN 5), not from an
    admin or anyone else the referral is otherwise open to."""
    if sees_confidential_referrer(actor, family):
        return
    given = [f for f in CONFIDENTIAL_FIELDS if fields.get(f)]
    if given:
        raise ValidationError(dict.fromkeys(given, "Only the family's own team records who referred."))


def _require_owning_team(actor: User, family: Family) -> None:
    from django.core.exceptions import PermissionDenied

    if not can_change_family(actor, family):
        raise PermissionDenied("Only the owning team records referrals for this family.")


@transaction.atomic
def referral_create(*, actor: User, family: Family, **fields: Any) -> Referral:
    _require_owning_team(actor, family)
    unknown = set(fields) - set(REFERRAL_FIELDS)
    if unknown:
        raise ValueError(f"Unknown referral fields: {sorted(unknown)}")
    _refuse_confidential_from_outsiders(actor, family, fields)
    fields["concerns"] = _clean_concerns(fields.get("concerns"))
    if fields.get("decision") and not fields.get("decision_at"):
        fields["decision_at"] = timezone.now()
    referral = Referral(family=family, recorded_by=actor, **fields)
    referral.full_clean()
    referral.save()
    # The confidential fields are deliberately not in the audit row (DESIGN 6).
    audit_create(
        actor=actor,
        instance=referral,
        family_id=family.pk,
        fields=("source", "concerns", "decision"),
    )
    family_touch(family.pk)
    return referral


@transaction.atomic
def referral_update(*, actor: User, referral: Referral, data: dict[str, Any]) -> Referral:
    _require_owning_team(actor, referral.family)
    data = dict(data)
    _refuse_confidential_from_outsiders(actor, referral.family, data)
    if "concerns" in data:
        data["concerns"] = _clean_concerns(data["concerns"])

    def decided_at(fresh: Referral, changes: dict[str, Any]) -> dict[str, Any]:
        # From the saved row, under its lock: a decision made since the caller read it is not "new".
        if "decision" not in changes:
            return {}
        if changes["decision"] == ReferralDecision.PENDING:
            return {"decision_at": None}
        if changes["decision"] != fresh.decision and not changes.get("decision_at"):
            return {"decision_at": timezone.now()}
        return {}

    referral, changes = model_update(
        instance=referral,
        data=data,
        allowed=REFERRAL_FIELDS,
        actor=actor,
        family_id=referral.family_id,
        derive=decided_at,
    )
    if changes:
        family_touch(referral.family_id)
    return referral
