"""Escalation prompts: routing new flags to a person, the decisions on them, overdue escalation.

Routing (DESIGN 4): a new high flag goes to the team manager of the family's owning team; a medium
flag to the lead professional, or the team manager when there is none. An open or acknowledged
prompt past its due date (default 5 working days) escalates itself one level.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone

from audit.services import AuditAction, audit_record
from cases.models import Agency, Family, Role, User
from cases.service_utils import ConflictError, family_touch
from escalation.models import (
    ACTIVE_PROMPT_STATUSES,
    LEVEL_ORDER,
    CheckSettings,
    EscalationPrompt,
    Flag,
    FlagStatus,
    PromptEvent,
    PromptEventKind,
    PromptLevel,
    PromptStatus,
    Severity,
)
from escalation.permissions import may_decide_prompt, who_decides


def add_working_days(day: dt.date, n: int) -> dt.date:
    """`n` working days (Monday to Friday) after `day`. Bank holidays are not yet known here."""
    while n > 0:
        day += dt.timedelta(days=1)
        if day.weekday() < 5:
            n -= 1
    return day


def team_managers(team_ids: Iterable[int]) -> dict[int, int]:
    """The team manager of each team: its first active manager (one query)."""
    managers: dict[int, int] = {}
    for team_id, user_id in (
        User.objects.filter(team_id__in=set(team_ids), role=Role.MANAGER, is_active=True)
        .order_by("team_id", "id")
        .values_list("team_id", "id")
    ):
        managers.setdefault(team_id, user_id)
    return managers


def _assignee(level: str, family: dict, managers: dict[int, int], agencies: dict[int, dict]) -> int | None:
    person = _assignee_by_level(level, family, managers, agencies)
    # A restricted family's prompt goes to someone named on it: else to the manager who restricted it.
    if family.get("restricted") and person not in family.get("named", ()):
        return family["restricted_by_id"]
    return person


def _assignee_by_level(level: str, family: dict, managers: dict[int, int], agencies: dict[int, dict]) -> int | None:
    if level == PromptLevel.LEAD_PROFESSIONAL:
        return family["lead_professional_id"]
    if level == PromptLevel.TEAM_MANAGER:
        return managers.get(family["team_id"])
    agency = agencies.get(family["team__agency_id"], {})
    if level == PromptLevel.HEAD_OF_SERVICE:
        return agency.get("head_of_service_id")
    return agency.get("partnership_lead_id")


def _family_facts(family_ids: Iterable[int]) -> tuple[dict[int, dict], dict[int, int], dict[int, dict]]:
    families = {
        f["id"]: f
        for f in Family.objects.filter(id__in=set(family_ids)).values(
            "id", "team_id", "team__agency_id", "lead_professional_id", "restricted", "restricted_by_id"
        )
    }
    restricted = [pk for pk, f in families.items() if f["restricted"]]
    if restricted:  # who is named on each (a query only when a restricted family is among them)
        from cases.models import FamilyUserObjectPermission

        grants = FamilyUserObjectPermission.objects.filter(content_object_id__in=restricted)
        for family_id, user_id in grants.values_list("content_object_id", "user_id"):
            families[family_id].setdefault("named", set()).add(user_id)
    managers = team_managers(f["team_id"] for f in families.values())
    agencies = {
        a["id"]: a
        for a in Agency.objects.filter(id__in={f["team__agency_id"] for f in families.values()}).values(
            "id", "head_of_service_id", "partnership_lead_id"
        )
    }
    return families, managers, agencies


def raise_prompts(
    *, flags: list[Flag], as_of: dt.datetime, cfg: CheckSettings, upgraded: list[Flag] = ()
) -> list[EscalationPrompt]:
    """Open a prompt for each new flag, routed by its severity, and for each flag that has become
    high unless it already has an active prompt with the team manager or above (it rose to high
    again after dropping to medium, say). A constant number of queries per call."""
    if upgraded:
        senior = (PromptLevel.TEAM_MANAGER, PromptLevel.HEAD_OF_SERVICE, PromptLevel.PARTNERSHIP)
        already = set(
            EscalationPrompt.objects.filter(
                flag_id__in=[f.pk for f in upgraded], status__in=ACTIVE_PROMPT_STATUSES, level__in=senior
            ).values_list("flag_id", flat=True)
        )
        flags = [*flags, *(f for f in upgraded if f.pk not in already)]
    if not flags:
        return []
    families, managers, agencies = _family_facts(f.family_id for f in flags)
    due = add_working_days(timezone.localdate(as_of), cfg.prompt_due_working_days)
    prompts = []
    for flag in flags:
        family = families[flag.family_id]
        if flag.severity == Severity.HIGH or family["lead_professional_id"] is None:
            level = PromptLevel.TEAM_MANAGER
        else:
            level = PromptLevel.LEAD_PROFESSIONAL
        prompts.append(
            EscalationPrompt(
                flag=flag,
                family_id=flag.family_id,
                level=level,
                assigned_to_id=_assignee(level, family, managers, agencies),
                due=due,
                created_at=as_of,
                updated_at=as_of,
            )
        )
    EscalationPrompt.objects.bulk_create(prompts)
    PromptEvent.objects.bulk_create(
        PromptEvent(prompt=p, at=as_of, kind=PromptEventKind.RAISED, to_status=PromptStatus.OPEN, reason=_why(p))
        for p in prompts
    )
    return prompts


def _why(prompt: EscalationPrompt) -> str:
    if prompt.level == PromptLevel.TEAM_MANAGER and prompt.flag.severity == Severity.HIGH:
        return "High severity: to the team manager."
    if prompt.level == PromptLevel.TEAM_MANAGER:
        return "No lead professional: to the team manager."
    return "To the lead professional."


def _next_level(level: str) -> str | None:
    i = LEVEL_ORDER.index(level)
    return LEVEL_ORDER[i + 1] if i + 1 < len(LEVEL_ORDER) else None


def escalate_overdue(*, as_of: dt.datetime | None = None) -> int:
    """Escalate every open or acknowledged prompt past its due date one level. Idempotent: the
    escalated prompt leaves the active statuses in the same transaction as its successor is made.
    A prompt whose flag has since resolved waits for its decision but does not climb further."""
    as_of = as_of or timezone.now()
    cfg = CheckSettings.load()
    today = timezone.localdate(as_of)
    with transaction.atomic():
        overdue = list(
            EscalationPrompt.objects.select_for_update(skip_locked=True)
            .filter(status__in=ACTIVE_PROMPT_STATUSES, due__lt=today, flag__status=FlagStatus.OPEN)
            .exclude(level=PromptLevel.PARTNERSHIP)
            .select_related("flag")
        )
        if not overdue:
            return 0
        for prompt in overdue:
            reason = f"Overdue: no decision by {prompt.due:%-d %b %Y}; escalated automatically."
            _escalate(prompt=prompt, actor=None, reason=reason, as_of=as_of, cfg=cfg, audit=False)
        return len(overdue)


def prompt_hand_on(
    *,
    prompt: EscalationPrompt,
    level: str,
    assigned_to_id: int | None,
    due: dt.date,
    actor: User | None,
    as_of: dt.datetime,
    reason: str,
    raised_reason: str,
) -> EscalationPrompt:
    """Close `prompt` as escalated and open its successor at `level` for `assigned_to_id`, each
    with its event: the one way a prompt moves on (escalation, or its holder losing access)."""
    successor = EscalationPrompt.objects.create(
        flag_id=prompt.flag_id,
        family_id=prompt.family_id,
        level=level,
        assigned_to_id=assigned_to_id,
        due=due,
        escalated_from=prompt,
        created_at=as_of,
        updated_at=as_of,
    )
    previous = prompt.status
    EscalationPrompt.objects.filter(pk=prompt.pk).update(status=PromptStatus.ESCALATED, updated_at=as_of)
    prompt.status = PromptStatus.ESCALATED
    PromptEvent.objects.bulk_create(
        [
            PromptEvent(
                prompt=prompt,
                at=as_of,
                actor=actor,
                kind=PromptEventKind.ESCALATED,
                from_status=previous,
                to_status=PromptStatus.ESCALATED,
                reason=reason,
            ),
            PromptEvent(
                prompt=successor,
                at=as_of,
                actor=actor,
                kind=PromptEventKind.RAISED,
                to_status=PromptStatus.OPEN,
                reason=raised_reason,
            ),
        ]
    )
    return successor


def _escalate(
    *, prompt: EscalationPrompt, actor: User | None, reason: str, as_of: dt.datetime, cfg: CheckSettings, audit: bool
) -> EscalationPrompt:
    level = _next_level(prompt.level)
    if level is None:
        raise ValidationError(
            {"reason": "This prompt is already with the safeguarding partnership, the highest level."}
        )
    families, managers, agencies = _family_facts([prompt.family_id])
    previous = prompt.status
    successor = prompt_hand_on(
        prompt=prompt,
        level=level,
        assigned_to_id=_assignee(level, families[prompt.family_id], managers, agencies),
        due=add_working_days(timezone.localdate(as_of), cfg.prompt_due_working_days),
        actor=actor,
        as_of=as_of,
        reason=reason,
        raised_reason=f"Escalated from {prompt.get_level_display().lower()}: {reason}",
    )
    if audit:
        audit_record(
            actor=actor,
            action=AuditAction.CHANGE,
            instance=prompt,
            family_id=prompt.family_id,
            changes={"status": {"from": previous, "to": PromptStatus.ESCALATED}},
        )
    family_touch(prompt.family_id)
    return successor


# --- decisions by people ---------------------------------------------------------------------


def _require_decider(actor: User, prompt: EscalationPrompt) -> None:
    if not may_decide_prompt(actor, prompt):
        raise PermissionDenied(who_decides(prompt))


def _transition(
    *, actor: User, prompt: EscalationPrompt, allowed: tuple[str, ...], to: str, kind: str, **fields: str
) -> EscalationPrompt:
    # Who decides is judged on the row as it is now (locked), not as the caller read it: the prompt
    # may have been reassigned or escalated since.
    locked = EscalationPrompt.objects.select_for_update(of=("self",)).select_related("family").get(pk=prompt.pk)
    _require_decider(actor, locked)
    now = timezone.now()
    # Conditional update: of two managers acting at once, one wins and the other is told.
    updated = EscalationPrompt.objects.filter(pk=prompt.pk, status__in=allowed).update(
        status=to, updated_at=now, **fields
    )
    if not updated:
        # Someone else decided first (or it was already decided): say so, and keep what was tried.
        current = EscalationPrompt.objects.filter(pk=prompt.pk).values("status", "action_taken", "rationale").first()
        raise ConflictError(
            f"This prompt is already {current['status']}; it can only be {kind} while {' or '.join(allowed)}. "
            "Nothing you entered was saved.",
            current=current,
            attempted={"status": to, **fields},
        )
    previous = prompt.status
    PromptEvent.objects.create(
        prompt=prompt, at=now, actor=actor, kind=kind, from_status=previous, to_status=to, **fields
    )
    audit_record(
        actor=actor,
        action=AuditAction.CHANGE,
        instance=prompt,
        family_id=prompt.family_id,
        changes={"status": {"from": previous, "to": to}, **{k: {"from": "", "to": v} for k, v in fields.items()}},
    )
    family_touch(prompt.family_id)
    prompt.refresh_from_db()
    return prompt


@transaction.atomic
def prompt_acknowledge(*, actor: User, prompt: EscalationPrompt) -> EscalationPrompt:
    return _transition(
        actor=actor,
        prompt=prompt,
        allowed=(PromptStatus.OPEN,),
        to=PromptStatus.ACKNOWLEDGED,
        kind=PromptEventKind.ACKNOWLEDGED,
    )


@transaction.atomic
def prompt_action(*, actor: User, prompt: EscalationPrompt, action_taken: str, rationale: str) -> EscalationPrompt:
    errors = {}
    if not (action_taken or "").strip():
        errors["action_taken"] = "Say what action was taken."
    if not (rationale or "").strip():
        errors["rationale"] = "Give the rationale for the decision."
    if errors:
        raise ValidationError(errors)
    return _transition(
        actor=actor,
        prompt=prompt,
        allowed=ACTIVE_PROMPT_STATUSES,
        to=PromptStatus.ACTIONED,
        kind=PromptEventKind.ACTIONED,
        action_taken=action_taken.strip(),
        rationale=rationale.strip(),
    )


@transaction.atomic
def prompt_escalate(*, actor: User, prompt: EscalationPrompt, reason: str) -> EscalationPrompt:
    """Escalate to the next level with a reason; returns the new prompt at that level."""
    if not (reason or "").strip():
        raise ValidationError({"reason": "Give the reason for escalating."})
    locked = (
        EscalationPrompt.objects.select_for_update(of=("self", "flag"))
        .select_related("flag", "family")
        .get(pk=prompt.pk)
    )
    _require_decider(actor, locked)
    if locked.status not in ACTIVE_PROMPT_STATUSES:
        raise ConflictError(
            f"This prompt is already {locked.status}; it can only be escalated while open or acknowledged. "
            "Nothing you entered was saved.",
            current={"status": locked.status, "action_taken": locked.action_taken, "rationale": locked.rationale},
            attempted={"status": PromptStatus.ESCALATED, "reason": reason.strip()},
        )
    return _escalate(
        prompt=locked, actor=actor, reason=reason.strip(), as_of=timezone.now(), cfg=CheckSettings.load(), audit=True
    )
