"""Prompts whose assignee has lost sight of the family go to its team manager, at once.

A partner's person who led a family loses access the moment the share ends (or lapses), and a
practitioner loses it when the family moves team. A prompt assigned to them would otherwise wait,
unseen, until it fell overdue (five working days) and escalated itself. Here each such prompt is
closed as escalated and a successor opened with the team manager, in the same transaction as the
change that took the access away; the family's checks then run after commit, so a
"no lead professional" flag and its prompt appear at once too.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

from django.db import transaction
from django.utils import timezone

from audit.services import AuditAction, audit_record
from cases.access import visible_families
from cases.models import Family, User
from escalation.models import (
    ACTIVE_PROMPT_STATUSES,
    LEVEL_ORDER,
    CheckSettings,
    EscalationPrompt,
    PromptLevel,
    PromptStatus,
)
from escalation.services.checks import ChunkSpec, check_chunk
from escalation.services.prompts import add_working_days, prompt_hand_on, team_managers

LOST_ACCESS_REASON = "The person it was with can no longer see this family's record: to the team manager."
CHECKS_AFTER_ACCESS_LOST = ["no_lead_professional"]


def _sees(user: User, family_id: int) -> bool:
    return visible_families(user).filter(pk=family_id).exists()


def _named_or_restrictor(user_id: int | None, family_id: int, restricted_by: dict[int, int | None]) -> int | None:
    if family_id not in restricted_by:
        return user_id
    from cases.models import FamilyUserObjectPermission

    named = FamilyUserObjectPermission.objects.filter(content_object_id=family_id, user_id=user_id).exists()
    return user_id if named else restricted_by[family_id]


def reassign_prompts_without_access(
    *, actor: User | None, family_ids: Iterable[int], as_of: dt.datetime | None = None
) -> list[EscalationPrompt]:
    """Hand every open or acknowledged prompt of these families whose assignee can no longer see
    the family to the family's team manager (at the team manager's level, or its own if higher).
    Runs in the caller's transaction. Returns the new prompts."""
    as_of = as_of or timezone.now()
    prompts = list(
        EscalationPrompt.objects.select_for_update(of=("self",))
        .filter(family_id__in=set(family_ids), status__in=ACTIVE_PROMPT_STATUSES, assigned_to__isnull=False)
        .select_related("assigned_to")
        .order_by("pk")
    )
    lost = [p for p in prompts if not _sees(p.assigned_to, p.family_id)]
    if not lost:
        return []
    teams = dict(Family.objects.filter(pk__in={p.family_id for p in lost}).values_list("pk", "team_id"))
    managers = team_managers(teams.values())
    # A restricted family's prompt goes to someone named on it: the team manager if named, else the
    # manager who restricted it (`cases.restriction`).
    restricted_by = dict(Family.objects.filter(pk__in=teams, restricted=True).values_list("pk", "restricted_by_id"))
    due = add_working_days(timezone.localdate(as_of), CheckSettings.load().prompt_due_working_days)
    successors = []
    for prompt in lost:
        level = max(prompt.level, PromptLevel.TEAM_MANAGER, key=LEVEL_ORDER.index)
        previous = prompt.status
        successor = prompt_hand_on(
            prompt=prompt,
            level=level,
            assigned_to_id=_named_or_restrictor(managers.get(teams[prompt.family_id]), prompt.family_id, restricted_by),
            due=due,
            actor=actor,
            as_of=as_of,
            reason=LOST_ACCESS_REASON,
            raised_reason=LOST_ACCESS_REASON,
        )
        audit_record(
            actor=actor,
            action=AuditAction.CHANGE,
            instance=prompt,
            family_id=prompt.family_id,
            changes={
                "status": {"from": previous, "to": PromptStatus.ESCALATED},
                "assigned_to": {"from": prompt.assigned_to_id, "to": successor.assigned_to_id},
            },
        )
        successors.append(successor)
    return successors


def check_families_now(family_ids: Iterable[int]) -> None:
    """Run the access-related checks over these families in this process (one small chunk)."""
    ids = sorted(set(family_ids))
    if ids:
        check_chunk(chunk=ChunkSpec(ids=ids), rule_codes=CHECKS_AFTER_ACCESS_LOST)


def check_families_after_commit(family_ids: Iterable[int]) -> None:
    """Once the caller's transaction commits, check these families. A failure here is logged, not
    raised: the change itself has committed, and the next scheduled run checks them again."""
    ids = sorted(set(family_ids))
    transaction.on_commit(lambda: check_families_now(ids), robust=True)
