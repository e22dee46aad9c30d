"""`missing_family_details` (DESIGN 4): a child with fewer than two parents recorded and no gap
explaining why; a member living elsewhere with no phone and no address; an adult with no date of
birth; the "other significant adults" question unanswered; a gap whose revisit date has passed.
One medium flag per family, listing every issue."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db.models import Prefetch

from cases.models import GapReason, InformationGap, Relationship, RelationshipKind
from cases.tests.factories import MemberFactory

from .helpers import AS_OF, open_flags, run

pytestmark = pytest.mark.django_db

RULE = "missing_family_details"
TODAY = AS_OF.date()


def flag_or_none(family):
    flags = list(open_flags(rule=RULE, family=family))
    assert len(flags) <= 1
    return flags[0] if flags else None


def issues(family) -> list[str]:
    flag = flag_or_none(family)
    return sorted(i["issue"] for i in flag.evidence["issues"]) if flag else []


@pytest.fixture
def lone_mother_and_baby(family, child, mother):
    """Child K (seed 002): mother and baby known; the father and other adults never asked about."""
    return family


@pytest.fixture
def complete_family(family, child, mother):
    """Both parents recorded with dates of birth, the significant-adults question answered."""
    mother.date_of_birth = dt.date(1996, 2, 3)
    mother.save()
    MemberFactory(
        family=family, role="father", given_name="Dan", family_name="Smith", date_of_birth=dt.date(1993, 1, 1)
    )
    family.significant_adults_confirmed = True
    family.save()
    return family


def gap(family, *, subject="father", revisit_on=None, resolved_at=None, member=None):
    return InformationGap.objects.create(
        family=family,
        member=member,
        subject=subject,
        reason=GapReason.DECLINED,
        revisit_on=revisit_on,
        resolved_at=resolved_at,
    )


def test_a_complete_family_raises_no_flag(complete_family):
    run(rules=[RULE])

    assert flag_or_none(complete_family) is None


def test_a_lone_mother_and_baby_with_no_father_raise_a_medium_flag(lone_mother_and_baby, child):
    run(rules=[RULE])

    flag = flag_or_none(lone_mother_and_baby)
    assert flag.severity == "medium"
    assert flag.member is None
    assert issues(lone_mother_and_baby) == [
        "adult_no_date_of_birth",
        "child_parents_missing",
        "significant_adults_unanswered",
    ]
    [missing] = [i for i in flag.evidence["issues"] if i["issue"] == "child_parents_missing"]
    assert missing["member"] == child.pk
    assert missing["parents_recorded"] == 1
    assert "Kai Smith has 1 parent recorded" in flag.detail
    assert "Jade Smith has no date of birth" in flag.detail
    assert "other significant adults" in flag.detail


def test_recording_the_father_and_the_missing_answers_resolves_the_flag_on_the_next_run(lone_mother_and_baby, mother):
    run(rules=[RULE])
    flag = flag_or_none(lone_mother_and_baby)

    father = MemberFactory(
        family=lone_mother_and_baby,
        role="father",
        given_name="Dan",
        family_name="Smith",
        lives_in_household=False,
        contact_phone="07700 900123",
        date_of_birth=None,
    )
    lone_mother_and_baby.significant_adults_confirmed = True
    lone_mother_and_baby.save()
    mother.date_of_birth = dt.date(1996, 2, 3)
    mother.save()

    # Issue 3: an absent father recorded with a phone number is enough; his date of birth is not
    # required of someone living elsewhere.
    resolved_at = AS_OF + dt.timedelta(days=2)
    _, report = run(rules=[RULE], as_of=resolved_at)

    flag.refresh_from_db()
    assert flag.status == "resolved"
    assert flag.resolved_at == resolved_at
    assert report.resolved[RULE] == 1
    assert flag_or_none(lone_mother_and_baby) is None
    assert father.date_of_birth is None


def test_an_adult_in_the_household_without_a_date_of_birth_keeps_the_flag(lone_mother_and_baby, mother):
    MemberFactory(family=lone_mother_and_baby, role="father", lives_in_household=True, date_of_birth=None)
    lone_mother_and_baby.significant_adults_confirmed = True
    lone_mother_and_baby.save()
    mother.date_of_birth = dt.date(1996, 2, 3)
    mother.save()

    run(rules=[RULE])

    assert issues(lone_mother_and_baby) == ["adult_no_date_of_birth"]


def test_a_member_living_elsewhere_with_no_phone_and_no_address_is_flagged(complete_family):
    absent = MemberFactory(
        family=complete_family, role="partner", lives_in_household=False, date_of_birth=dt.date(1990, 1, 1)
    )

    run(rules=[RULE])

    assert issues(complete_family) == ["lives_elsewhere_no_contact"]
    [issue] = flag_or_none(complete_family).evidence["issues"]
    assert issue["member"] == absent.pk
    assert "(partner) lives elsewhere and has no phone or address" in issue["text"]


@pytest.mark.parametrize("contact", [{"contact_phone": "07700 900123"}, {"contact_address": "1 Mill Lane, Northtown"}])
def test_a_member_living_elsewhere_with_a_phone_or_an_address_is_not_flagged(complete_family, contact):
    MemberFactory(
        family=complete_family,
        role="partner",
        lives_in_household=False,
        date_of_birth=dt.date(1990, 1, 1),
        **contact,
    )

    run(rules=[RULE])

    assert flag_or_none(complete_family) is None


def test_an_adult_without_a_date_of_birth_is_flagged_a_child_without_one_is_not(complete_family):
    gran = MemberFactory(family=complete_family, role="grandparent", given_name="Rose", date_of_birth=None)
    MemberFactory(family=complete_family, role="child", date_of_birth=None)
    # A sibling may be a child or an adult: no date of birth is not, by itself, an adult's gap.
    MemberFactory(family=complete_family, role="sibling", date_of_birth=None)

    run(rules=[RULE])

    flag = flag_or_none(complete_family)
    assert "adult_no_date_of_birth" in issues(complete_family)
    dob = [i for i in flag.evidence["issues"] if i["issue"] == "adult_no_date_of_birth"]
    assert [i["member"] for i in dob] == [gran.pk]


def test_the_significant_adults_question_unanswered_is_flagged(complete_family):
    complete_family.significant_adults_confirmed = False
    complete_family.save()

    run(rules=[RULE])

    assert issues(complete_family) == ["significant_adults_unanswered"]


def test_parent_of_relationships_take_precedence_over_roles(complete_family, child, mother):
    # Two parents by role, but the relationships record only the mother as the child's parent.
    Relationship.objects.create(family=complete_family, from_member=mother, to_member=child, kind="parent_of")

    run(rules=[RULE])

    assert issues(complete_family) == ["child_parents_missing"]
    [issue] = flag_or_none(complete_family).evidence["issues"]
    assert (issue["member"], issue["parents_recorded"]) == (child.pk, 1)


def test_two_parent_of_relationships_satisfy_the_child(complete_family, child, mother):
    father = complete_family.members.get(role="father")
    for parent in (mother, father):
        Relationship.objects.create(
            family=complete_family, from_member=parent, to_member=child, kind=RelationshipKind.PARENT_OF
        )
    Relationship.objects.create(
        family=complete_family, from_member=mother, to_member=father, kind=RelationshipKind.PARTNER_OF
    )

    run(rules=[RULE])

    assert flag_or_none(complete_family) is None


# --- information gaps ---------------------------------------------------------------------------


@pytest.fixture
def no_father(complete_family):
    complete_family.members.filter(role="father").delete()
    return complete_family


def test_a_declined_father_gap_with_a_future_revisit_date_explains_the_missing_parent(no_father):
    gap(no_father, revisit_on=TODAY + dt.timedelta(days=30))

    run(rules=[RULE])

    assert flag_or_none(no_father) is None


def test_a_gap_due_for_revisit_today_still_explains(no_father):
    gap(no_father, revisit_on=TODAY)

    run(rules=[RULE])

    assert flag_or_none(no_father) is None


def test_the_flag_comes_back_when_the_gaps_revisit_date_has_passed(no_father, child):
    the_gap = gap(no_father, revisit_on=TODAY - dt.timedelta(days=1))

    run(rules=[RULE])

    flag = flag_or_none(no_father)
    assert issues(no_father) == ["child_parents_missing", "gap_revisit_due"]
    due = [i for i in flag.evidence["issues"] if i["issue"] == "gap_revisit_due"]
    assert due == [
        {
            "issue": "gap_revisit_due",
            "gap": the_gap.pk,
            "revisit_on": (TODAY - dt.timedelta(days=1)).isoformat(),
            "text": "'father' was due to be asked again on 12 Jun 2025",
        }
    ]


def test_a_gap_quiets_the_flag_until_its_revisit_date_then_it_reopens(no_father):
    gap(no_father, revisit_on=TODAY + dt.timedelta(days=7))
    run(rules=[RULE])
    assert flag_or_none(no_father) is None

    run(rules=[RULE], as_of=AS_OF + dt.timedelta(days=8))

    assert issues(no_father) == ["child_parents_missing", "gap_revisit_due"]


def test_a_resolved_gap_does_not_explain(no_father):
    gap(no_father, revisit_on=TODAY + dt.timedelta(days=30), resolved_at=AS_OF - dt.timedelta(days=1))

    run(rules=[RULE])

    assert issues(no_father) == ["child_parents_missing"]


def test_a_gap_without_a_revisit_date_explains(no_father):
    gap(no_father, revisit_on=None)

    run(rules=[RULE])

    assert flag_or_none(no_father) is None


def test_a_gap_about_something_else_does_not_explain_a_missing_parent(no_father):
    gap(no_father, subject="school", revisit_on=TODAY + dt.timedelta(days=30))

    run(rules=[RULE])

    assert issues(no_father) == ["child_parents_missing"]


def test_a_gap_recorded_on_the_child_explains_that_child_only(no_father, child):
    sibling = MemberFactory(family=no_father, role="child", given_name="Mia", family_name="Smith")
    gap(no_father, subject="father", member=child, revisit_on=TODAY + dt.timedelta(days=30))

    run(rules=[RULE])

    flag = flag_or_none(no_father)
    assert [i["member"] for i in flag.evidence["issues"]] == [sibling.pk]


def test_a_gap_on_an_adult_explains_their_missing_date_of_birth(complete_family, mother):
    mother.date_of_birth = None
    mother.save()
    gap(complete_family, subject="date_of_birth", member=mother, revisit_on=TODAY + dt.timedelta(days=30))

    run(rules=[RULE])

    assert flag_or_none(complete_family) is None


def test_the_flag_is_per_family_and_lists_every_issue_in_its_detail(lone_mother_and_baby):
    MemberFactory(family=lone_mother_and_baby, role="partner", lives_in_household=False, given_name="Lee")

    run(rules=[RULE])

    assert open_flags(rule=RULE).count() == 1
    flag = flag_or_none(lone_mother_and_baby)
    assert flag.detail.startswith("Missing family details: ")
    for issue in flag.evidence["issues"]:
        assert issue["text"] in flag.detail


# --- one family in memory (the family page) against the checks' SQL ------------------------------


def _random_family(rng, team):
    """A family with a random mix of everything the rule looks at, boundaries included: revisit
    dates yesterday, today and tomorrow, resolved gaps, family-wide gaps on parent and other
    subjects, parent and partner relationships, people in and out of the household."""
    from cases.models import MemberRole
    from cases.tests.factories import FamilyFactory

    family = FamilyFactory(team=team, significant_adults_confirmed=rng.random() < 0.5)
    members = []
    for _ in range(rng.randint(0, 6)):
        role = rng.choice(list(MemberRole.values))
        members.append(
            MemberFactory(
                family=family,
                role=role,
                lives_in_household=rng.random() < 0.7,
                date_of_birth=None if rng.random() < 0.3 else dt.date(1990, 1, 1),
                contact_phone=rng.choice(["", "", "07700 900123"]),
                contact_address=rng.choice(["", "", "1 High Street"]),
            )
        )
    for _ in range(rng.randint(0, 4)):
        if len(members) >= 2:
            a, b = rng.sample(members, 2)
            kind = rng.choice([RelationshipKind.PARENT_OF, RelationshipKind.PARENT_OF, RelationshipKind.PARTNER_OF])
            Relationship.objects.get_or_create(family=family, from_member=a, to_member=b, kind=kind)
    for _ in range(rng.randint(0, 3)):
        InformationGap.objects.create(
            family=family,
            member=rng.choice(members) if members and rng.random() < 0.6 else None,
            subject=rng.choice(["father", "parents", "date of birth", "contact details", "school"]),
            reason=GapReason.NOT_ASKED,
            revisit_on=rng.choice([None, TODAY - dt.timedelta(days=1), TODAY, TODAY + dt.timedelta(days=1)]),
            resolved_at=AS_OF if rng.random() < 0.2 else None,
        )
    return family


def _both_ways(family_ids) -> dict[int, tuple[list, list]]:
    """Each family's issues as the checks' SQL finds them and as `issues_for_family` finds them
    from the family's record in memory (what the family page does)."""
    from cases.models import Family, Member
    from escalation.models import CheckSettings
    from escalation.rules import Scope
    from escalation.rules.missing_family_details import MissingFamilyDetails, issues_for_family

    families = Family.objects.filter(pk__in=family_ids)
    scope = Scope(families=families, as_of=AS_OF, cfg=CheckSettings.load())
    by_sql = {f.family_id: f.evidence["issues"] for f in MissingFamilyDetails().evaluate(scope)}
    out = {}
    for family in families.prefetch_related(
        Prefetch("members", queryset=Member.objects.order_by("id")), "relationships"
    ):
        unresolved = list(InformationGap.objects.filter(family=family, resolved_at__isnull=True))
        in_memory = issues_for_family(
            family=family,
            members=family.members.all(),
            relationships=family.relationships.all(),
            unresolved_gaps=unresolved,
            today=TODAY,
        )
        out[family.pk] = (by_sql.get(family.pk, []), in_memory)
    return out


def test_one_family_in_memory_finds_what_the_checks_find(team):
    """The family page works the rule out from the record it has already read
    (`issues_for_family`); the checks work it out in SQL for a chunk of families. On 150 varied
    families the two give the same issues, in the same order, with the same words."""
    import random

    rng = random.Random(7)
    families = [_random_family(rng, team) for _ in range(150)]

    seen = set()
    for family_id, (by_sql, in_memory) in _both_ways([f.pk for f in families]).items():
        assert in_memory == by_sql, family_id
        seen |= {i["issue"] for i in in_memory}
    assert seen == {
        "child_parents_missing",
        "lives_elsewhere_no_contact",
        "adult_no_date_of_birth",
        "significant_adults_unanswered",
        "gap_revisit_due",
    }


def test_only_what_is_filed_under_the_family_counts_for_it(team):
    """A gap or a parent relationship filed under another family (the services refuse both; a
    direct insert or an import could do it) counts for neither: not in the checks' SQL, not on the
    family page."""
    from cases.tests.factories import FamilyFactory

    a = FamilyFactory(team=team, significant_adults_confirmed=True)
    b = FamilyFactory(team=team, significant_adults_confirmed=True)
    absent_father = MemberFactory(family=b, role="father", lives_in_household=False, date_of_birth=None)
    InformationGap.objects.create(family=a, member=absent_father, subject="contact", reason=GapReason.NOT_ASKED)
    c = FamilyFactory(team=team, significant_adults_confirmed=True)
    d = FamilyFactory(team=team, significant_adults_confirmed=True)
    child = MemberFactory(family=c)
    mother = MemberFactory(family=c, role="mother")
    other = MemberFactory(family=d, role="father")
    Relationship.objects.create(family=c, from_member=mother, to_member=child, kind=RelationshipKind.PARENT_OF)
    Relationship.objects.create(family=d, from_member=other, to_member=child, kind=RelationshipKind.PARENT_OF)

    found = _both_ways([a.pk, b.pk, c.pk, d.pk])
    for family_id, (by_sql, in_memory) in found.items():
        assert in_memory == by_sql, family_id
    assert [i["issue"] for i in found[b.pk][0]] == ["lives_elsewhere_no_contact"]
    assert [(i["issue"], i["parents_recorded"]) for i in found[c.pk][0]] == [("child_parents_missing", 1)]
