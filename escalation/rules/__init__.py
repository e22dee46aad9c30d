"""The registry of checks. Codes are part of the API: never rename one."""

from __future__ import annotations

from .base import Finding, Rule, Scope
from .engagement_decline import EngagementDecline
from .missing_family_details import MissingFamilyDetails
from .no_lead_professional import NoLeadProfessional
from .was_not_brought import WasNotBrought

RULES: dict[str, Rule] = {
    rule.code: rule for rule in (MissingFamilyDetails(), WasNotBrought(), EngagementDecline(), NoLeadProfessional())
}
RULE_CHOICES = [(code, rule.title) for code, rule in RULES.items()]


def get_rules(codes: list[str] | None = None) -> list[Rule]:
    if not codes:
        return list(RULES.values())
    unknown = [c for c in codes if c not in RULES]
    if unknown:
        raise KeyError(f"Unknown rule(s) {unknown}; known: {', '.join(RULES)}")
    return [RULES[c] for c in codes]


__all__ = ["RULES", "RULE_CHOICES", "Finding", "Rule", "Scope", "get_rules"]
