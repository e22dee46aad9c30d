"""Restricted records (DESIGN 6): the services that restrict a family to named people, change who
is named, and lift the restriction. Each is audited in the same transaction, with the reason.

Grants are django-guardian per-object permissions (`FamilyUserObjectPermission`, a real foreign
key); who sees what is still decided in `cases.access`, which reads them in the same query.

Decisions:
- The manager making the restriction is always named; so is the lead professional (refused
  otherwise: a lead who cannot see the family cannot lead it).
- People must be active and able to see the family if it were not restricted: its team, its
  agency's head of service or partnership lead, and people of a partner agency with a current
  share (a partner named keeps access only while the share lasts; a partner not named loses it).
  Admins are never named.
- Active prompts assigned to someone not named move to the restricting manager; prompts the
  checks raise later go to them too when their assignee is not named.
"""

from __future__ import annotations

from collections.abc import Iterable

from django.contrib.auth.models import Permission
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from audit.services import AuditAction, audit_record

from .access import RESTRICTED_PERMISSION, could_see_unrestricted, may_restrict
from .models import Family, FamilyUserObjectPermission, User

REASON_MAX_LENGTH = 2000


def _permission() -> Permission:
    return Permission.objects.get(codename=RESTRICTED_PERMISSION, content_type__app_label="cases")


def named_people(*, family: Family) -> list[User]:
    """Who is named on the family (empty when it is not restricted)."""
    return list(
        User.objects.filter(
            pk__in=FamilyUserObjectPermission.objects.filter(
                content_object=family, permission__codename=RESTRICTED_PERMISSION
            ).values("user_id")
        ).order_by("last_name", "first_name", "username")
    )


def _clean_reason(reason: str | None, *, required: bool) -> str:
    reason = (reason or "").strip()
    if required and not reason:
        raise ValidationError({"reason": "Say why the record is restricted."})
    if len(reason) > REASON_MAX_LENGTH:
        raise ValidationError({"reason": f"Keep the reason to {REASON_MAX_LENGTH} characters or fewer."})
    return reason


@transaction.atomic
def restriction_set(*, actor: User, family: Family, people: Iterable[User], reason: str) -> Family:
    """Restrict the family to `people` (and the actor), or change who is named on it."""
    if not may_restrict(actor, family):
        raise PermissionDenied("Only a manager of the family's team, or its head of service, can restrict it.")
    reason = _clean_reason(reason, required=True)
    family = Family.objects.select_for_update().get(pk=family.pk)
    chosen = {u.pk: u for u in people}
    chosen[actor.pk] = actor
    refused = sorted(str(u) for u in chosen.values() if not (u.is_active and could_see_unrestricted(u, family)))
    if refused:
        raise ValidationError(
            {"people": "Only active people who could otherwise see this family can be named: " + ", ".join(refused)}
        )
    if family.lead_professional_id and family.lead_professional_id not in chosen:
        raise ValidationError({"people": "Name the lead professional too, or change the lead professional first."})
    permission = _permission()
    before = set(
        FamilyUserObjectPermission.objects.filter(content_object=family, permission=permission).values_list(
            "user_id", flat=True
        )
    )
    after = set(chosen)
    FamilyUserObjectPermission.objects.filter(
        content_object=family, permission=permission, user_id__in=before - after
    ).delete()
    FamilyUserObjectPermission.objects.bulk_create(
        [FamilyUserObjectPermission(content_object=family, permission=permission, user_id=pk) for pk in after - before]
    )
    changes = {}
    if not family.restricted:
        changes["restricted"] = {"from": False, "to": True}
    if before != after:
        changes["people"] = {"from": sorted(before), "to": sorted(after)}
    if family.restriction_reason != reason:
        changes["restriction_reason"] = {"from": family.restriction_reason, "to": reason}
    if not changes:
        return family
    Family.objects.filter(pk=family.pk).update(
        restricted=True,
        restriction_reason=reason,
        restricted_by=actor,
        version=F("version") + 1,
        updated_at=timezone.now(),
    )
    _move_prompts_to(actor=actor, family=family, named=after)
    audit_record(actor=actor, action=AuditAction.CHANGE, instance=family, family_id=family.pk, changes=changes)
    family.refresh_from_db()
    return family


@transaction.atomic
def restriction_lift(*, actor: User, family: Family, reason: str = "") -> Family:
    """Lift the restriction: the family is seen again by everyone its relation allows."""
    if not may_restrict(actor, family):
        raise PermissionDenied("Only a manager of the family's team, or its head of service, can lift a restriction.")
    reason = _clean_reason(reason, required=False)
    family = Family.objects.select_for_update().get(pk=family.pk)
    if not family.restricted:
        return family
    grants = FamilyUserObjectPermission.objects.filter(
        content_object=family, permission__codename=RESTRICTED_PERMISSION
    )
    before = sorted(grants.values_list("user_id", flat=True))
    grants.delete()
    Family.objects.filter(pk=family.pk).update(
        restricted=False,
        restriction_reason="",
        restricted_by=None,
        version=F("version") + 1,
        updated_at=timezone.now(),
    )
    changes = {
        "restricted": {"from": True, "to": False},
        "people": {"from": before, "to": []},
        "restriction_reason": {"from": family.restriction_reason, "to": ""},
    }
    if reason:
        changes["lift_reason"] = {"from": "", "to": reason}
    audit_record(actor=actor, action=AuditAction.CHANGE, instance=family, family_id=family.pk, changes=changes)
    family.refresh_from_db()
    return family


def _move_prompts_to(*, actor: User, family: Family, named: set[int]) -> None:
    """A prompt must reach someone who can see the family: active prompts assigned to someone not
    named go to the restricting manager."""
    from escalation.models import (  # escalation depends on cases
        ACTIVE_PROMPT_STATUSES,
        EscalationPrompt,
        PromptEvent,
        PromptEventKind,
    )

    moving = list(
        EscalationPrompt.objects.select_for_update()
        .filter(family=family, status__in=ACTIVE_PROMPT_STATUSES)
        .exclude(assigned_to_id__in=named)
        .exclude(assigned_to__isnull=True)
        .values_list("pk", "status")
    )
    if not moving:
        return
    now = timezone.now()
    EscalationPrompt.objects.filter(pk__in=[pk for pk, _ in moving]).update(assigned_to=actor, updated_at=now)
    # The prompt's own history says where it went and why, as every other transition does.
    PromptEvent.objects.bulk_create(
        PromptEvent(
            prompt_id=pk,
            at=now,
            actor=actor,
            kind=PromptEventKind.REASSIGNED,
            from_status=status,
            to_status=status,
            reason=f"Handed to {actor.get_full_name() or actor.username}: the record was restricted and the "
            "person it was with is not named on it.",
        )
        for pk, status in moving
    )
