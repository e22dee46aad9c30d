"""Who may decide an escalation prompt: the one place for that "may".

A prompt is decided (acknowledged, actioned or escalated) by the person it is assigned to, or by
someone above them in the chain of the family's owning service:

    lead professional → team manager → head of service → safeguarding partnership lead

The family's lead professional holds the first level; the managers of the owning team the second
(above its practitioners); the owning agency's head of service the third and its partnership lead
the fourth. An unassigned prompt at a level is decided by whoever holds that level or above.
Nobody else decides, however much of the record they may see or change: not a teammate, not a
partner agency (unless it is the assignee, as a partner lead professional can be), not an admin.

Seeing the prompt is a different question (`escalation.selectors`, through `cases.access`): an
outsider gets 404 before this is asked; someone who can see it but not decide gets 403 with
`who_decides`, so they know whom to ask.
"""

from __future__ import annotations

from cases.models import Agency, Family, Role, User
from escalation.models import LEVEL_ORDER, EscalationPrompt, PromptLevel

# How a person reads each level, in "Only the team manager, … can decide this prompt."
LEVEL_HOLDER = {
    PromptLevel.LEAD_PROFESSIONAL: "lead professional",
    PromptLevel.TEAM_MANAGER: "team manager",
    PromptLevel.HEAD_OF_SERVICE: "head of service",
    PromptLevel.PARTNERSHIP: "safeguarding partnership lead",
}


def _rank(level: str) -> int:
    return LEVEL_ORDER.index(level)


def level_held(user: User, family: Family) -> int | None:
    """The highest level of the family's chain that `user` holds (an index into LEVEL_ORDER), or
    None when they hold none. At most one query (the owning agency's senior people)."""
    if not user.is_authenticated or not user.is_active:
        return None
    agency = (
        Agency.objects.filter(teams__pk=family.team_id).values("head_of_service_id", "partnership_lead_id").first()
        or {}
    )
    if agency.get("partnership_lead_id") == user.pk:
        return _rank(PromptLevel.PARTNERSHIP)
    if agency.get("head_of_service_id") == user.pk:
        return _rank(PromptLevel.HEAD_OF_SERVICE)
    if user.role == Role.MANAGER and user.team_id == family.team_id:
        return _rank(PromptLevel.TEAM_MANAGER)
    if family.lead_professional_id == user.pk:
        return _rank(PromptLevel.LEAD_PROFESSIONAL)
    return None


def may_decide_prompt(user: User, prompt: EscalationPrompt) -> bool:
    """The assignee, or someone above them; for an unassigned prompt, whoever holds its level or
    above. Whether the prompt is still open to a decision is the services' question, not this."""
    if not user.is_authenticated or not user.is_active:
        return False
    if prompt.assigned_to_id is not None and prompt.assigned_to_id == user.pk:
        return True
    held = level_held(user, prompt.family)
    if held is None:
        return False
    level = _rank(prompt.level)
    return held > level if prompt.assigned_to_id is not None else held >= level


def who_decides(prompt: EscalationPrompt) -> str:
    """Who can decide the prompt, in a sentence for the person who cannot."""
    holder = LEVEL_HOLDER[prompt.level]
    top = prompt.level == LEVEL_ORDER[-1]
    assignee = prompt.assigned_to
    if assignee is not None:
        name = assignee.get_full_name() or assignee.username
        if top:
            return f"Only the {holder}, {name}, can decide this prompt."
        return f"Only the {holder}, {name}, or someone above them can decide this prompt."
    if top:
        return f"Only the {holder} can decide this prompt."
    return f"Only the {holder} or someone above them can decide this prompt."
