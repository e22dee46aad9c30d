"""`no_lead_professional`: an open family has no lead professional.

Child K (seed 004): professionals "were unclear about the role of the lead professional".
"""

from __future__ import annotations

from escalation.models import Severity

from .base import Finding, Scope


class NoLeadProfessional:
    code = "no_lead_professional"
    title = "No lead professional"

    def evaluate(self, scope: Scope) -> list[Finding]:
        rows = scope.families.filter(lead_professional__isnull=True).values_list("id", "name", "team__name")
        return [
            Finding(
                family_id=family_id,
                member_id=None,
                severity=Severity.MEDIUM,
                detail=f"The {name} has no lead professional: nobody is named to coordinate the work.",
                evidence={"team": team},
            )
            for family_id, name, team in rows
        ]
