"""The family page: who may open it, what it shows, its chronology, and what it costs in queries."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from cases.models import CaseNote, FamilyStatus, InformationGap, LeadProfessionalAssignment, Relationship
from cases.tests.factories import AgencyFactory, FamilyFactory, MemberFactory, ShareFactory, UserFactory
from escalation.models import EscalationPrompt, Flag, PromptEvent
from referrals.tests.factories import ReferralFactory
from visits.models import AppointmentStatus
from visits.tests.factories import AppointmentFactory, VisitFactory

pytestmark = pytest.mark.django_db

HTMX_CHRONOLOGY = {"HX-Request": "true", "HX-Target": "chronology-list"}
CONFIDENTIAL = ("Pat Neighbour-Confidential", "07700 900123", "Sam Supporter")


def _url(family, **params) -> str:
    url = reverse("family-detail", args=[family.pk])
    if params:
        url += "?" + "&".join(f"{k}={v}" for k, v in params.items())
    return url


def _get(client, user, family, **params):
    client.force_login(user)
    return client.get(_url(family, **params))


def _section(html: str, section_id: str) -> str:
    """The HTML of one <section id=...> of the family page."""
    match = re.search(rf'<section id="{section_id}".*?</section>', html, flags=re.S)
    assert match, f"no section #{section_id}"
    return match.group(0)


def _between(html: str, start: str, end: str) -> str:
    i = html.index(start)
    return html[i : html.index(end, i + len(start))]


def _people(html: str) -> list[str]:
    """The names heading the rows of a members table."""
    return re.findall(r'data-label="Name">\s*([^<\n]+?)\s*(?:<|\n)', html)


def _chronology_kinds(html: str) -> list[str]:
    return re.findall(r'class="app-timeline__item app-timeline__item--(\w+)"', html)


# --- who may open the family page ------------------------------------------------------------


@pytest.mark.parametrize("persona", ["practitioner", "teammate", "manager", "admin_user"])
def test_owning_team_and_admin_open_the_family_page(client, request, family, child, persona):
    response = _get(client, request.getfixturevalue(persona), family)
    assert response.status_code == 200
    html = response.content.decode()
    assert '<h1 class="govuk-heading-l govuk-!-margin-bottom-2">Smith family</h1>' in html
    assert family.reference in html
    # The owning team can change the record and record everything.
    assert f'href="{reverse("member-create", args=[family.pk])}"' in html
    assert f'href="{reverse("referral-create", args=[family.pk])}"' in html
    assert f'href="{reverse("visit-create", args=[family.pk])}"' in html


def test_partner_with_a_share_opens_the_page_and_may_only_record_events(client, partner, share, family, child):
    response = _get(client, partner, family)
    assert response.status_code == 200
    html = response.content.decode()
    assert "Smith family" in html
    assert f'href="{reverse("visit-create", args=[family.pk])}"' in html
    assert f'href="{reverse("appointment-create", args=[family.pk])}"' in html
    assert f"{reverse('appointment-create', args=[family.pk])}?member={child.pk}" in html
    for name in (
        "member-create",
        "referral-create",
        "relationship-create",
        "gap-create",
        "significant-adults",
        "lead-professional",
        "share-create",
    ):
        assert f'href="{reverse(name, args=[family.pk])}' not in html, name
    assert reverse("member-edit", args=[family.pk, child.pk]) not in html
    assert "End sharing with" not in html


@pytest.mark.parametrize("persona", ["other_team_user", "unshared_partner"])
def test_outsiders_get_404_and_no_content(client, request, family, child, persona):
    response = _get(client, request.getfixturevalue(persona), family)
    assert response.status_code == 404
    assert b"Smith" not in response.content
    assert b"Kai" not in response.content
    # The HTMX chronology partial is no way round it.
    response = client.get(_url(family), headers=HTMX_CHRONOLOGY)
    assert response.status_code == 404


def test_an_unknown_family_is_404(client, practitioner):
    assert _get(client, practitioner, FamilyFactory.build(pk=987654)).status_code == 404


@pytest.mark.parametrize(
    "share_kwargs",
    [
        {"ended_at": "now"},
        {"starts": -60, "ends": -1},
        {"starts": 3},
    ],
    ids=["ended", "expired", "not-started"],
)
def test_partner_whose_share_is_not_current_gets_404(client, partner, family, share_kwargs):
    today = timezone.localdate()
    kwargs = {}
    for key, value in share_kwargs.items():
        kwargs[key] = timezone.now() if value == "now" else today + dt.timedelta(days=value)
    ShareFactory(family=family, agency=partner.agency, **kwargs)
    assert _get(client, partner, family).status_code == 404


def test_anonymous_is_sent_to_sign_in(client, family):
    response = client.get(_url(family))
    assert response.status_code == 302
    assert response.url == f"{reverse('login')}?next={_url(family)}"


# --- lead professional -----------------------------------------------------------------------


def test_lead_professional_banner_names_them_with_agency_and_contacts(client, practitioner, teammate, family):
    practitioner.first_name, practitioner.last_name = "Alice", "Okafor"
    practitioner.job_title, practitioner.phone, practitioner.email = (
        "Social worker",
        "01632 960001",
        "alice@example.org",
    )
    practitioner.save()
    html = _get(client, teammate, family).content.decode()
    banner = _between(html, 'aria-label="Lead professional"', "</div>")
    assert "<strong>Alice Okafor</strong>, Social worker" in banner
    assert "Northshire Children&#x27;s Services" in banner
    assert '<a class="govuk-link" href="tel:01632 960001">01632 960001</a>' in banner
    assert "mailto:alice@example.org" in banner
    assert reverse("lead-professional", args=[family.pk]) in banner  # the owning team can change it
    assert "has no lead professional" not in html


def test_partner_sees_the_lead_professional_but_no_change_link(client, partner, share, family):
    html = _get(client, partner, family).content.decode()
    banner = _between(html, 'aria-label="Lead professional"', "</div>")
    assert "Northshire Children&#x27;s Services" in banner
    assert reverse("lead-professional", args=[family.pk]) not in banner


def test_warning_when_there_is_no_lead_professional(client, practitioner, partner, team, health_agency):
    family = FamilyFactory(team=team, name="Jones family", lead_professional=None)
    ShareFactory(family=family, agency=health_agency)
    html = _get(client, practitioner, family).content.decode()
    assert 'class="govuk-warning-text app-warning-box"' in html
    assert "This family has no lead professional. Nobody is named to coordinate the work." in html
    assert f'<a class="govuk-link" href="{reverse("lead-professional", args=[family.pk])}">Set the lead' in html
    assert 'aria-label="Lead professional"' not in html

    html = _get(client, partner, family).content.decode()
    assert "This family has no lead professional." in html
    assert reverse("lead-professional", args=[family.pk]) not in html


# --- household and what is missing -----------------------------------------------------------


def test_household_is_split_by_where_people_live_with_their_relationships(client, practitioner, family):
    kai = MemberFactory(
        family=family,
        given_name="Kai",
        family_name="Smith",
        role="child",
        aliases=["Kye", "Kai Smith-Jones"],
        additional_needs="Autism; non-verbal",
        school="Northshire Primary",
    )
    jade = MemberFactory(
        family=family, given_name="Jade", family_name="Smith", role="mother", parental_responsibility=True
    )
    dan = MemberFactory(
        family=family,
        given_name="Dan",
        family_name="Jones",
        role="father",
        lives_in_household=False,
        contact_phone="07700 900456",
        contact_address="4 Mill Lane, Northtown",
    )
    lee = MemberFactory(family=family, given_name="Lee", family_name="Park", role="partner", lives_in_household=False)
    Relationship.objects.create(family=family, from_member=jade, to_member=kai, kind="parent_of")
    Relationship.objects.create(family=family, from_member=dan, to_member=kai, kind="parent_of")
    Relationship.objects.create(family=family, from_member=lee, to_member=jade, kind="partner_of")

    html = _get(client, practitioner, family).content.decode()
    household = _section(html, "household")
    in_household = _between(household, "Lives in the household</h3>", "Lives elsewhere</h3>")
    elsewhere = _between(household, "Lives elsewhere</h3>", "Other significant adults:")

    assert _people(in_household) == ["Kai Smith", "Jade Smith"]
    assert _people(elsewhere) == ["Dan Jones", "Lee Park"]
    assert "Parents: Jade Smith, Dan Jones" in in_household
    assert "Partner of Lee Park" in in_household  # Jade's row
    assert "Partner of Jade Smith" in elsewhere  # Lee's row
    assert "Also known as Kye, Kai Smith-Jones" in in_household
    assert "Autism; non-verbal" in in_household
    assert "School: Northshire Primary" in in_household
    assert "Parental responsibility" in in_household
    assert '<a class="govuk-link" href="tel:07700 900456">07700 900456</a>' in elsewhere
    assert "4 Mill Lane, Northtown" in elsewhere
    assert "No phone or address" in elsewhere  # Lee
    assert reverse("member-edit", args=[family.pk, dan.pk]) in elsewhere


def test_empty_household_says_so(client, practitioner, family):
    household = _section(_get(client, practitioner, family).content.decode(), "household")
    assert "Nobody recorded yet." in household
    assert "Nobody recorded as living elsewhere." in household


def test_what_is_missing_lists_the_gaps_with_one_click_fixes(client, practitioner, family, child, mother):
    # Kai has one parent (Jade); Jade has no date of birth; the significant adults question is unanswered;
    # Dan, the father, lives elsewhere with no phone or address; a gap's revisit date has passed.
    dan = MemberFactory(
        family=family,
        given_name="Dan",
        family_name="Jones",
        role="father",
        lives_in_household=False,
        date_of_birth=None,
    )
    Relationship.objects.create(family=family, from_member=mother, to_member=child, kind="parent_of")
    overdue = InformationGap.objects.create(
        family=family, subject="school", reason="not_asked", revisit_on=timezone.localdate() - dt.timedelta(days=2)
    )

    html = _get(client, practitioner, family).content.decode()
    box = _between(html, '<div class="app-gaps"', "</section>")
    pk = family.pk

    assert "What is missing from the family record" in box
    assert "Kai Smith has 1 parent recorded." in box
    assert f'href="/families/{pk}/members/add/?role=father&amp;lives_in_household=no">Add a parent</a>' in box
    assert f'href="/families/{pk}/relationships/add/?kind=parent_of&amp;to_member={child.pk}">Link a parent</a>' in box
    assert f'href="/families/{pk}/gaps/add/?member={child.pk}&amp;subject=parent">Record why not</a>' in box

    assert "Dan Jones (father) lives elsewhere and has no phone or address." in box
    assert f'href="/families/{pk}/members/{dan.pk}/#id_contact_phone">Add phone or address</a>' in box
    assert f'href="/families/{pk}/gaps/add/?member={dan.pk}&amp;subject=contact+details">Record why not</a>' in box

    assert "Jade Smith has no date of birth." in box
    assert f'href="/families/{pk}/members/{mother.pk}/#id_date_of_birth_0">Add date of birth</a>' in box

    assert "The family has not been asked about other significant adults" in box
    assert f'href="/families/{pk}/significant-adults/">Record the answer</a>' in box

    assert "was due to be asked again on" in box
    assert f'action="/families/{pk}/gaps/{overdue.pk}/resolve/"' in box
    assert "Mark as known now" in box

    assert "Household (5 gaps)" in html  # the jump link counts them
    assert "Not yet asked</strong>" in html


def test_partner_sees_what_is_missing_without_the_links(client, partner, share, family, child):
    html = _get(client, partner, family).content.decode()
    box = _between(html, '<div class="app-gaps"', "</section>")
    assert "Kai Smith has no parents recorded." in box
    assert "app-gaps__actions" not in box


def test_nothing_missing_means_no_box(client, practitioner, family, child, mother):
    mother.date_of_birth = dt.date(1990, 5, 1)
    mother.save()
    MemberFactory(
        family=family, given_name="Dan", role="father", lives_in_household=False, contact_phone="07700 900456"
    )
    family.significant_adults_confirmed = True
    family.significant_adults_note = "No one else, mum says"
    family.save()

    html = _get(client, practitioner, family).content.decode()

    assert "What is missing from the family record" not in html
    assert "Asked and answered</strong> “No one else, mum says”" in html


def test_a_recorded_gap_explains_the_missing_parent_and_is_listed(client, practitioner, family, child, mother):
    revisit = timezone.localdate() + dt.timedelta(days=30)
    InformationGap.objects.create(family=family, member=child, subject="parent", reason="declined", revisit_on=revisit)

    html = _get(client, practitioner, family).content.decode()

    assert "Kai Smith has" not in html
    not_known = _between(html, "Not known yet</h3>", "</table>")
    assert "Parent (Kai Smith)" in not_known
    assert "Family declined to say" in not_known
    assert revisit.strftime("%-d %b %Y") in not_known
    assert "Mark as known" in not_known


def test_closed_family_shows_no_gaps(client, practitioner, team):
    family = FamilyFactory(team=team, status=FamilyStatus.CLOSED)
    MemberFactory(family=family, role="child")
    html = _get(client, practitioner, family).content.decode()
    assert "What is missing from the family record" not in html
    assert 'govuk-tag--grey">Closed</strong>' in html


# --- team around the family ------------------------------------------------------------------


def test_team_around_the_family_lists_every_agency_with_contacts(
    client, practitioner, family, child, share, health_agency, council
):
    council.phone = "01632 960000"
    council.save()
    health_agency.phone = "01632 960100"
    health_agency.save()
    practitioner.first_name, practitioner.last_name, practitioner.phone = "Alice", "Okafor", "01632 960001"
    practitioner.save()
    hv = UserFactory(
        team=None,
        agency=health_agency,
        role="partner",
        first_name="Hana",
        last_name="Visitor",
        job_title="Health visitor",
        phone="07700 900777",
        email="hana@nhs.example",
    )
    VisitFactory(family=family, practitioner=hv, agency=health_agency)
    hospital = AgencyFactory(name="Northshire General Hospital", kind="hospital", phone="01632 960200")
    AppointmentFactory(member=child, agency=hospital)
    # More than a year ago: no longer part of the team around the family.
    school = AgencyFactory(name="Old School", kind="school")
    VisitFactory(family=family, agency=school, scheduled_for=timezone.now() - dt.timedelta(days=400))
    # An ended share is not current.
    police = AgencyFactory(name="Northshire Police", kind="police")
    ShareFactory(family=family, agency=police, ended_at=timezone.now())

    team = _section(_get(client, practitioner, family).content.decode(), "team")

    council_entry = _between(team, "Northshire Children&#x27;s Services", "</div>")
    assert "owning team: Assessment Team North" in council_entry
    assert "tel:01632 960000" in council_entry
    assert "Alice Okafor (lead professional)" in council_entry
    assert "tel:01632 960001" in council_entry

    hv_entry = _between(team, "Northshire Health Visiting<span", "</div>")
    assert "visits" in hv_entry and "record shared" in hv_entry
    assert "Hana Visitor, Health visitor (visits)" in hv_entry
    assert "tel:07700 900777" in hv_entry and "mailto:hana@nhs.example" in hv_entry
    assert "tel:01632 960100" in hv_entry

    hospital_entry = _between(team, "Northshire General Hospital<span", "</div>")
    assert "appointments" in hospital_entry
    assert "tel:01632 960200" in hospital_entry

    assert "Old School" not in team
    assert "Northshire Police" not in team
    # The owning team may end the current share, and share further.
    assert f'action="{reverse("share-end", args=[family.pk, share.pk])}"' in team
    assert "End sharing with Northshire Health Visiting" in team
    assert "End sharing with Northshire Police" not in team
    assert reverse("share-create", args=[family.pk]) in team


def test_share_with_an_end_date_says_until_when(client, practitioner, family, health_agency):
    ends = timezone.localdate() + dt.timedelta(days=60)
    ShareFactory(family=family, agency=health_agency, ends=ends)
    team = _section(_get(client, practitioner, family).content.decode(), "team")
    assert f"record shared until {ends:%-d %b %Y}" in team


# --- flags -----------------------------------------------------------------------------------


def test_open_flags_show_severity_rule_detail_and_evidence(client, practitioner, family, child):
    Flag.objects.create(
        family=family,
        member=child,
        rule="was_not_brought",
        severity="high",
        detail="Kai Smith was not brought to 3 appointments in 90 days across 2 agencies.",
        evidence={
            "appointments": [
                {
                    "date": "3 Mar 2026",
                    "agency": "Northshire General Hospital",
                    "kind": "paediatric_review",
                    "critical": True,
                },
                {"date": "9 Feb 2026", "agency": "Northshire Health Visiting", "kind": "health_review"},
            ]
        },
    )
    Flag.objects.create(
        family=family,
        rule="missing_family_details",
        severity="medium",
        detail="Missing family details: the family has not been asked about other significant adults.",
        evidence={"issues": [{"issue": "significant_adults_unanswered", "text": "the family has not been asked"}]},
    )
    Flag.objects.create(
        family=family,
        rule="no_lead_professional",
        severity="medium",
        status="resolved",
        resolved_at=timezone.now(),
        detail="Old resolved flag text",
    )

    html = _get(client, practitioner, family).content.decode()
    flags = _section(html, "flags")

    assert "Flags (2)" in html
    assert '<strong class="govuk-tag govuk-tag--red">High</strong>' in flags
    assert '<strong class="govuk-tag govuk-tag--yellow">Medium</strong>' in flags
    assert "Kai Smith was not brought to 3 appointments in 90 days across 2 agencies." in flags
    assert "3 Mar 2026 · Northshire General Hospital · paediatric review · <strong>critical</strong>" in flags
    assert "9 Feb 2026 · Northshire Health Visiting · health review</li>" in flags
    assert "<li>The family has not been asked</li>" in flags
    assert "Old resolved flag text" not in flags


def test_high_flags_are_listed_before_medium_ones(client, practitioner, family):
    Flag.objects.create(family=family, rule="was_not_brought", severity="high", detail="HIGH FLAG")
    Flag.objects.create(family=family, rule="missing_family_details", severity="medium", detail="MEDIUM FLAG")
    flags = _section(_get(client, practitioner, family).content.decode(), "flags")
    assert flags.index("HIGH FLAG") < flags.index("MEDIUM FLAG")


def test_no_open_flags_no_flags_section(client, practitioner, family):
    html = _get(client, practitioner, family).content.decode()
    assert 'id="flags"' not in html
    assert 'href="#flags"' not in html


def test_partner_sees_the_open_flags(client, partner, share, family):
    Flag.objects.create(family=family, rule="engagement_decline", severity="high", detail="Three no-access visits.")
    html = _get(client, partner, family).content.decode()
    assert "Three no-access visits." in _section(html, "flags")


# --- chronology ------------------------------------------------------------------------------


@pytest.fixture
def history(family, child, mother, practitioner, teammate, health_agency, share):
    """One of each kind of chronology entry, from two agencies, on distinct days."""
    now = timezone.now()
    hospital = AgencyFactory(name="Northshire General Hospital", kind="hospital")
    ReferralFactory(
        family=family, source="public", received_at=now - dt.timedelta(days=60), concerns=["neglect"], summary="Cold"
    )
    LeadProfessionalAssignment.objects.create(family=family, user=teammate, started_at=now - dt.timedelta(days=55))
    VisitFactory(
        family=family,
        practitioner=practitioner,
        scheduled_for=now - dt.timedelta(days=40),
        purpose="Review the safety plan with mum",
    )
    VisitFactory(
        family=family,
        agency=health_agency,
        planned=False,
        purpose="",
        expected_outcome="",
        status="no_access",
        scheduled_for=now - dt.timedelta(days=30),
    )
    AppointmentFactory(
        member=child,
        agency=hospital,
        kind="paediatric_review",
        critical=True,
        status=AppointmentStatus.WAS_NOT_BROUGHT,
        scheduled_for=now - dt.timedelta(days=20),
    )
    AppointmentFactory(member=mother, agency=health_agency, scheduled_for=now - dt.timedelta(days=15))
    CaseNote.objects.create(
        family=family, author=practitioner, agency=practitioner.agency, at=now - dt.timedelta(days=10), text="Strategy"
    )
    flag = Flag.objects.create(
        family=family, rule="was_not_brought", severity="high", detail="Kai was not brought", first_seen=now
    )
    prompt = EscalationPrompt.objects.create(
        flag=flag, family=family, level="team_manager", due=timezone.localdate() + dt.timedelta(days=5)
    )
    PromptEvent.objects.create(prompt=prompt, kind="raised", at=now, to_status="open")
    return {"hospital": hospital}


def test_chronology_shows_every_kind_of_record_newest_first(client, practitioner, family, history):
    html = _section(_get(client, practitioner, family).content.decode(), "chronology")
    kinds = _chronology_kinds(html)
    assert set(kinds) == {"referral", "lead_professional", "visit", "appointment", "share", "note", "flag", "prompt"}
    assert kinds[-1] == "referral"  # the oldest
    assert "Referral from a member of the public: neglect." in html
    assert "Planned visit: completed. Purpose: Review the safety plan with mum" in html
    assert "Unplanned visit: no access." in html
    assert "Kai Smith: Paediatric review (critical) — was not brought." in html
    assert "Record shared with Northshire Health Visiting" in html
    assert "Strategy" in html
    assert "Flag raised (high): Kai was not brought" in html
    assert "became lead professional." in html


def test_chronology_filters_by_kind(client, practitioner, family, history):
    html = _section(_get(client, practitioner, family, kind="appointment").content.decode(), "chronology")
    assert _chronology_kinds(html) == ["appointment", "appointment"]
    assert '<option value="appointment" selected>Appointments</option>' in html
    # An unknown kind shows everything rather than nothing.
    html = _section(_get(client, practitioner, family, kind="bogus").content.decode(), "chronology")
    assert len(set(_chronology_kinds(html))) == 8


def test_chronology_filters_by_agency(client, practitioner, family, history, health_agency):
    html = _section(_get(client, practitioner, family, agency=health_agency.pk).content.decode(), "chronology")
    assert _chronology_kinds(html) == ["appointment", "visit"]
    assert "Unplanned visit: no access." in html
    assert "Kai Smith:" not in html  # the hospital's
    # The agency choices are the team around the family.
    assert f'<option value="{health_agency.pk}" selected>Northshire Health Visiting</option>' in html
    assert f'<option value="{history["hospital"].pk}">Northshire General Hospital</option>' in html


def test_chronology_filters_combine(client, practitioner, family, history, health_agency):
    html = _section(
        _get(client, practitioner, family, kind="visit", agency=health_agency.pk).content.decode(), "chronology"
    )
    assert _chronology_kinds(html) == ["visit"]
    html = _section(
        _get(client, practitioner, family, kind="referral", agency=health_agency.pk).content.decode(), "chronology"
    )
    assert _chronology_kinds(html) == []
    assert "Nothing recorded yet that matches." in html


def test_htmx_chronology_request_returns_only_the_list(client, practitioner, family, history):
    client.force_login(practitioner)
    response = client.get(_url(family, kind="visit"), headers=HTMX_CHRONOLOGY)
    assert response.status_code == 200
    html = response.content.decode()
    assert html.lstrip().startswith('<div id="chronology-list">')
    assert "<html" not in html
    assert "Household" not in html
    assert "Lead professional" not in html
    assert _chronology_kinds(html) == ["visit", "visit"]


def test_htmx_request_for_another_target_gets_the_whole_page(client, practitioner, family, history):
    client.force_login(practitioner)
    response = client.get(_url(family), headers={"HX-Request": "true", "HX-Target": "main"})
    assert "<html" in response.content.decode()


def test_chronology_is_paginated_keeping_the_filter(client, practitioner, family):
    for i in range(25):
        VisitFactory(family=family, scheduled_for=timezone.now() - dt.timedelta(days=i + 1))
    html = _section(_get(client, practitioner, family, kind="visit").content.decode(), "chronology")
    assert len(_chronology_kinds(html)) == 20
    assert "Page 1 of 2" in html
    assert 'href="?kind=visit&amp;agency=&amp;page=2#chronology" rel="next"' in html
    html = _section(_get(client, practitioner, family, kind="visit", page=2).content.decode(), "chronology")
    assert len(_chronology_kinds(html)) == 5


def test_empty_chronology_says_so(client, practitioner, team):
    family = FamilyFactory(team=team)
    html = _section(_get(client, practitioner, family).content.decode(), "chronology")
    assert "Nothing recorded yet." in html


# --- the confidential referrer never reaches a partner -----------------------------------------


def _assert_no_referrer(response) -> None:
    assert response.status_code == 200
    for text in CONFIDENTIAL:
        assert text.encode() not in response.content, text


def test_confidential_referrer_never_reaches_a_partner(client, partner, share, family, child):
    ReferralFactory(family=family, source="public")
    ReferralFactory(family=family, source="anonymous")
    client.force_login(partner)

    _assert_no_referrer(client.get(_url(family)))
    _assert_no_referrer(client.get(_url(family, kind="referral"), headers=HTMX_CHRONOLOGY))
    _assert_no_referrer(client.get(_url(family), headers=HTMX_CHRONOLOGY))
    _assert_no_referrer(client.get(reverse("visit-create", args=[family.pk])))
    _assert_no_referrer(client.get(reverse("appointment-create", args=[family.pk]) + f"?member={child.pk}"))
    _assert_no_referrer(client.get(reverse("home")))
    _assert_no_referrer(client.get(reverse("search"), {"q": "Kai Smith"}))
    # ... though the referral itself is in the chronology.
    assert b"Referral from a member of the public" in client.get(_url(family)).content


def test_confidential_referrer_is_not_on_the_family_page_even_for_the_team(client, practitioner, family):
    ReferralFactory(family=family, source="public")
    _assert_no_referrer(_get(client, practitioner, family))


# --- query counts ----------------------------------------------------------------------------


def _count(client, user, family) -> int:
    client.force_login(user)
    client.get(_url(family))  # warm up: CheckSettings.load() creates its row on first use
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(_url(family))
    assert response.status_code == 200
    return len(ctx.captured_queries)


def _populate(family, *, members: int, events: int, agencies: list, practitioners: list) -> None:
    """`members` people (children and adults, some living elsewhere), related to each other, with
    `events` visits, appointments, referrals, notes, gaps and lead-professional changes."""
    now = timezone.now()
    people = []
    for i in range(members):
        role = "child" if i % 2 == 0 else ("mother", "father", "partner", "grandparent", "carer")[i // 2 % 5]
        people.append(MemberFactory(family=family, role=role, lives_in_household=i % 3 != 2, aliases=[f"Alias {i}"]))
    children = [p for p in people if p.role == "child"]
    adults = [p for p in people if p.role != "child"]
    for n, kid in enumerate(children):
        Relationship.objects.create(family=family, from_member=adults[n % len(adults)], to_member=kid, kind="parent_of")
    for i in range(events):
        agency = agencies[i % len(agencies)]
        VisitFactory(
            family=family,
            practitioner=practitioners[i % len(practitioners)],
            agency=agency,
            scheduled_for=now - dt.timedelta(days=i + 1),
        )
        AppointmentFactory(member=people[i % len(people)], agency=agency, scheduled_for=now - dt.timedelta(days=i + 2))
        ReferralFactory(family=family, received_at=now - dt.timedelta(days=i + 3))
        CaseNote.objects.create(family=family, author=practitioners[0], agency=agency, text=f"Note {i}")
        InformationGap.objects.create(
            family=family, member=people[i % len(people)], subject=f"gap {i}", reason="not_asked"
        )
        LeadProfessionalAssignment.objects.create(
            family=family,
            user=practitioners[i % len(practitioners)],
            started_at=now - dt.timedelta(days=100 - i),
            ended_at=now - dt.timedelta(days=99 - i),
        )
    for i, rule in enumerate(
        ["was_not_brought", "engagement_decline", "missing_family_details"][: max(1, events // 3)]
    ):
        flag = Flag.objects.create(
            family=family, member=children[0], rule=rule, severity="high" if i else "medium", detail=f"Flag {i}"
        )
        prompt = EscalationPrompt.objects.create(flag=flag, family=family, level="lead_professional", due=now.date())
        PromptEvent.objects.create(prompt=prompt, kind="raised", to_status="open", actor=practitioners[0])


def test_family_page_query_count_does_not_grow_with_the_family(
    client, practitioner, teammate, manager, team, health_agency
):
    """Both pages make the same queries:
    1 session, 2 request.user,
    3 the family (team, agency, lead professional and agency), 4 its members, 5 its relationships,
    6 its shares with their agencies (the "end sharing" buttons, the chronology and the team around);
    chronology: 7 referrals, 8 visits (agency), 9 appointments (agency, member), 10 lead history (user, agency),
    11 case notes (agency), 12 flags, 13 escalation prompt events (prompt, flag, actor);
    team around the family: 14 visiting agencies and practitioners, 15 appointment agencies;
    16 unresolved gaps (member), 17 open flags (member).
    What is missing is worked out from the members, relationships and gaps already read.
    """
    hospital = AgencyFactory(name="Northshire General Hospital", kind="hospital")
    school = AgencyFactory(name="Northshire Primary", kind="school")
    council = team.agency

    small = FamilyFactory(team=team, name="Small family", lead_professional=practitioner)
    ShareFactory(family=small, agency=health_agency)
    _populate(small, members=2, events=1, agencies=[council], practitioners=[practitioner])

    large = FamilyFactory(team=team, name="Large family", lead_professional=teammate)
    ShareFactory(family=large, agency=health_agency)
    _populate(
        large,
        members=12,
        events=9,
        agencies=[council, health_agency, hospital, school],
        practitioners=[practitioner, teammate, manager],
    )

    small_count = _count(client, practitioner, small)
    large_count = _count(client, practitioner, large)

    assert small_count == large_count == 18  # 17 reads and the audit log's one INSERT


def test_partner_family_page_query_count_does_not_grow_with_the_family(
    client, partner, practitioner, team, health_agency
):
    small = FamilyFactory(team=team, lead_professional=practitioner)
    ShareFactory(family=small, agency=health_agency)
    _populate(small, members=2, events=1, agencies=[team.agency], practitioners=[practitioner])
    large = FamilyFactory(team=team, lead_professional=practitioner)
    ShareFactory(family=large, agency=health_agency)
    _populate(large, members=12, events=9, agencies=[team.agency, health_agency], practitioners=[practitioner])

    assert _count(client, partner, small) == _count(client, partner, large)


def test_family_page_query_count_does_not_grow_with_the_shares(client, practitioner, team):
    one = FamilyFactory(team=team)
    ShareFactory(family=one, agency=AgencyFactory(name="Share agency 1"))
    three = FamilyFactory(team=team)
    for i in range(3):
        ShareFactory(family=three, agency=AgencyFactory(name=f"Share agency {i + 1}"))
    assert _count(client, practitioner, one) == _count(client, practitioner, three)


def test_a_partner_does_not_see_which_other_agencies_the_record_is_shared_with(client, partner, share, family):
    from cases.tests.factories import AgencyFactory, ShareFactory

    police = AgencyFactory(name="Northshire Police Public Protection", kind="police")
    ShareFactory(family=family, agency=police, purpose="Joint investigation")
    client.force_login(partner)
    html = client.get(f"/families/{family.pk}/").content.decode()
    assert partner.agency.name in html
    assert "Northshire Police Public Protection" not in html
