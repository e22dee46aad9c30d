"""`missing_family_details`: gaps in who the family is.

Fires for a family when: a child has fewer than two parents recorded and no gap explains why; a
member who lives elsewhere has no phone and no address; an adult in the household has no date of
birth; the "other significant adults" question is unanswered; or an information gap's revisit date
has passed.

Child K (seed 002): the father, who cared for the baby overnight, was barely known to services.
"Systems should support repeated prompts for any gaps in such information" and practitioners should
"revisit any information not obtained on initial enquiry until complete": a gap with a future
revisit date quiets the prompt until then; once it passes, the flag comes back.
"""

from __future__ import annotations

from collections import defaultdict

from django.db.models import Count, Exists, F, IntegerField, OuterRef, Q, Subquery
from django.db.models.functions import Coalesce

from cases.models import PARENT_ROLES, Family, InformationGap, Member, MemberRole, RelationshipKind
from escalation.models import Severity

from .base import Finding, Scope, fmt_date

# Gap subjects that explain a missing parent for every child of the family (a gap recorded on the
# child itself explains it for that child).
PARENT_GAP_SUBJECTS = ("father", "mother", "parent", "other_parent", "parents")
# A child should have this many parents recorded.
PARENTS_EXPECTED = 2
# Roles held to the date-of-birth test when in the household (a sibling may be a child or an adult).
NOT_ADULT_ROLES = (MemberRole.CHILD, MemberRole.SIBLING)


# The issues, worded once for both ways of finding them (a chunk of families in SQL, one family
# already in memory).


def _parents_missing(member_id: int, given: str, family_name: str, parents: int) -> dict:
    recorded = f"{parents or 'no'} parent{'' if parents == 1 else 's'}"
    return {
        "issue": "child_parents_missing",
        "member": member_id,
        "parents_recorded": parents,
        "text": f"{given} {family_name} has {recorded} recorded",
    }


def _no_contact(member_id: int, given: str, family_name: str, role: str) -> dict:
    return {
        "issue": "lives_elsewhere_no_contact",
        "member": member_id,
        "text": f"{given} {family_name} ({MemberRole(role).label.lower()}) lives elsewhere and has no phone or address",
    }


def _no_date_of_birth(member_id: int, given: str, family_name: str) -> dict:
    return {
        "issue": "adult_no_date_of_birth",
        "member": member_id,
        "text": f"{given} {family_name} has no date of birth",
    }


def _significant_adults() -> dict:
    return {
        "issue": "significant_adults_unanswered",
        "text": "the family has not been asked about other significant adults (partners living elsewhere included)",
    }


def _revisit_due(gap_id: int, subject: str, revisit_on) -> dict:
    return {
        "issue": "gap_revisit_due",
        "gap": gap_id,
        "revisit_on": revisit_on.isoformat(),
        "text": f"'{subject}' was due to be asked again on {fmt_date(revisit_on)}",
    }


def _in_order(found: list[dict]) -> list[dict]:
    return sorted(found, key=lambda i: (i["issue"], i.get("member") or 0, i.get("gap") or 0))


def issues_for_family(*, family: Family, members, relationships, unresolved_gaps, today) -> list[dict]:
    """The rule for one open family whose record is in memory already (the family page has its
    members, relationships and unresolved gaps): the same issues `evaluate` finds, without a query.
    `escalation/tests/test_rule_missing_family_details.py` checks the two agree on varied families."""
    explaining = [g for g in unresolved_gaps if g.revisit_on is None or g.revisit_on >= today]
    explained_members = {g.member_id for g in explaining if g.member_id}
    family_parent_gap = any(g.member_id is None and g.subject in PARENT_GAP_SUBJECTS for g in explaining)
    by_role = sum(1 for m in members if m.role in PARENT_ROLES)
    parent_links: dict[int, set[int]] = defaultdict(set)
    for r in relationships:
        if r.kind == RelationshipKind.PARENT_OF:
            parent_links[r.to_member_id].add(r.pk)
    found = []
    for m in members:
        if m.role == MemberRole.CHILD and not family_parent_gap and m.pk not in explained_members:
            parents = len(parent_links[m.pk]) or by_role
            if parents < PARENTS_EXPECTED:
                found.append(_parents_missing(m.pk, m.given_name, m.family_name, parents))
        if m.pk in explained_members:
            continue
        if not m.lives_in_household and m.contact_phone == "" and m.contact_address == "":
            found.append(_no_contact(m.pk, m.given_name, m.family_name, m.role))
        if m.date_of_birth is None and m.lives_in_household and m.role not in NOT_ADULT_ROLES:
            found.append(_no_date_of_birth(m.pk, m.given_name, m.family_name))
    if not family.significant_adults_confirmed:
        found.append(_significant_adults())
    for g in unresolved_gaps:
        if g.revisit_on is not None and g.revisit_on < today:
            found.append(_revisit_due(g.pk, g.subject, g.revisit_on))
    return _in_order(found)


def _open_gaps(scope: Scope):
    """Unresolved gaps whose revisit date has not passed: they explain a missing fact for now."""
    return InformationGap.objects.filter(resolved_at__isnull=True).filter(
        Q(revisit_on__isnull=True) | Q(revisit_on__gte=scope.today)
    )


class MissingFamilyDetails:
    code = "missing_family_details"
    title = "Missing family details"

    def evaluate(self, scope: Scope) -> list[Finding]:
        families = scope.family_ids()
        gaps = _open_gaps(scope)
        issues: dict[int, list[dict]] = defaultdict(list)

        # 1. Children with fewer than two parents recorded, and no gap explaining why.
        # Only what is filed under the child's own family counts (relationships and gaps alike), as
        # `issues_for_family` reads it; the services never file one under another family anyway.
        parents_by_relationship = Count(
            "relationships_to",
            filter=Q(relationships_to__kind=RelationshipKind.PARENT_OF, relationships_to__family_id=F("family_id")),
            distinct=True,
        )
        parents_by_role = (
            Member.objects.filter(family_id=OuterRef("family_id"), role__in=PARENT_ROLES)
            .values("family_id")
            .annotate(n=Count("id"))
            .values("n")
        )
        explained = gaps.filter(family_id=OuterRef("family_id")).filter(
            Q(member_id=OuterRef("pk")) | Q(member__isnull=True, subject__in=PARENT_GAP_SUBJECTS)
        )
        children = (
            Member.objects.filter(family_id__in=families, role=MemberRole.CHILD)
            .annotate(
                by_rel=parents_by_relationship,
                by_role=Coalesce(Subquery(parents_by_role, output_field=IntegerField()), 0),
                explained=Exists(explained),
            )
            .filter(explained=False)
            .values_list("family_id", "id", "given_name", "family_name", "by_rel", "by_role")
        )
        for family_id, member_id, given, family_name, by_rel, by_role in children:
            # DESIGN 3: with no parent relationships recorded for a child, mother/father/step-parent count.
            parents = by_rel if by_rel else by_role
            if parents < PARENTS_EXPECTED:
                issues[family_id].append(_parents_missing(member_id, given, family_name, parents))

        # 2. Someone who lives elsewhere with no phone and no address.
        member_gap = gaps.filter(member_id=OuterRef("pk"), family_id=OuterRef("family_id"))
        elsewhere = (
            Member.objects.filter(
                family_id__in=families, lives_in_household=False, contact_phone="", contact_address=""
            )
            .exclude(Exists(member_gap))
            .values_list("family_id", "id", "given_name", "family_name", "role")
        )
        for family_id, member_id, given, family_name, role in elsewhere:
            issues[family_id].append(_no_contact(member_id, given, family_name, role))

        # 3. Adults in the household with no date of birth (a sibling may be a child or an adult, so
        # is left out). Someone living elsewhere is held to the contact test above instead: issue 3
        # accepts an absent father recorded with a phone number as enough to close the gap.
        adults = (
            Member.objects.filter(family_id__in=families, date_of_birth__isnull=True, lives_in_household=True)
            .exclude(role__in=NOT_ADULT_ROLES)
            .exclude(Exists(member_gap))
            .values_list("family_id", "id", "given_name", "family_name")
        )
        for family_id, member_id, given, family_name in adults:
            issues[family_id].append(_no_date_of_birth(member_id, given, family_name))

        # 4. The "other significant adults" question not answered.
        for family_id in Family.objects.filter(id__in=families, significant_adults_confirmed=False).values_list(
            "id", flat=True
        ):
            issues[family_id].append(_significant_adults())

        # 5. Gaps whose revisit date has passed: ask again (repeated prompts).
        due = InformationGap.objects.filter(
            family_id__in=families, resolved_at__isnull=True, revisit_on__lt=scope.today
        ).values_list("family_id", "id", "subject", "revisit_on")
        for family_id, gap_id, subject, revisit_on in due:
            issues[family_id].append(_revisit_due(gap_id, subject, revisit_on))

        findings = []
        for family_id, found in issues.items():
            found = _in_order(found)
            detail = "Missing family details: " + "; ".join(i["text"] for i in found) + "."
            findings.append(
                Finding(
                    family_id=family_id,
                    member_id=None,
                    severity=Severity.MEDIUM,
                    detail=detail,
                    evidence={"issues": found},
                )
            )
        return findings
