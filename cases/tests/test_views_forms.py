"""The forms that change the family record: who may use them, valid input, bad input, CSRF.

Also home to two helpers the visit and referral view tests import: the GOV.UK error assertions and
the form-renderer workaround (see `govuk_form_renderer`).
"""

from __future__ import annotations

import datetime as dt
import re

import pytest
from django.conf import settings as django_settings
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from django.utils.html import escape

from cases.models import Family, FamilyShare, InformationGap, LeadProfessionalAssignment, Member, Relationship
from cases.tests.factories import AgencyFactory, FamilyFactory, MemberFactory, ShareFactory, UserFactory
from visits.tests.factories import AppointmentFactory

pytestmark = pytest.mark.django_db

# What the project configures, captured before any test overrides it.
PROJECT_FORM_RENDERER = django_settings.FORM_RENDERER


def assert_field_error(html: str, field: str, message: str, *, anchor: str | None = None) -> None:
    """The GOV.UK pattern: the message in the error summary, linked to the field, and at the field."""
    assert 'class="govuk-error-summary"' in html
    assert "<title>Error: " in html
    assert f'<a href="#{anchor or "id_" + field}">{escape(message)}</a>' in html, message
    assert (
        f'<p id="id_{field}-error" class="govuk-error-message">'
        f'<span class="govuk-visually-hidden">Error:</span> {escape(message)}</p>'
    ) in html, message


def date_data(field: str, value: dt.date | tuple) -> dict:
    day, month, year = (value.day, value.month, value.year) if isinstance(value, dt.date) else value
    return {f"{field}_day": str(day), f"{field}_month": str(month), f"{field}_year": str(year)}


def _html(response) -> str:
    return response.content.decode()


# --- the date widget with the project's own configuration --------------------------------------


@pytest.mark.parametrize("name", ["member-create", "gap-create", "share-create"])
def test_date_forms_render_with_the_projects_form_renderer(client, settings, practitioner, family, name):
    settings.FORM_RENDERER = PROJECT_FORM_RENDERER
    client.force_login(practitioner)
    response = client.get(reverse(name, args=[family.pk]))
    assert response.status_code == 200
    assert 'class="govuk-date-input"' in _html(response)


# --- who may use which form --------------------------------------------------------------------


@pytest.fixture
def gap(family):
    return InformationGap.objects.create(family=family, subject="father", reason="not_asked")


@pytest.fixture
def forms(family, child, mother, gap, share, teammate):
    """Each family-record form: its URL and a valid POST."""
    revisit = timezone.localdate() + dt.timedelta(days=30)
    police = AgencyFactory(name="Northshire Police", kind="police")
    return {
        "member-create": (
            reverse("member-create", args=[family.pk]),
            {"given_name": "Dan", "family_name": "Jones", "role": "father", "lives_in_household": "no"},
        ),
        "member-edit": (
            reverse("member-edit", args=[family.pk, child.pk]),
            {"given_name": "Kye", "family_name": "Smith", "role": "child", "lives_in_household": "yes"},
        ),
        "gap-create": (
            reverse("gap-create", args=[family.pk]),
            {"subject": "father", "reason": "declined", **date_data("revisit_on", revisit)},
        ),
        "relationship-create": (
            reverse("relationship-create", args=[family.pk]),
            {"from_member": mother.pk, "kind": "parent_of", "to_member": child.pk},
        ),
        "significant-adults": (
            reverse("significant-adults", args=[family.pk]),
            {"significant_adults_confirmed": "yes", "significant_adults_note": "None"},
        ),
        "lead-professional": (reverse("lead-professional", args=[family.pk]), {"user": teammate.pk}),
        "share-create": (
            reverse("share-create", args=[family.pk]),
            {
                "agency": police.pk,
                "purpose": "Joint visit",
                "legal_basis": "Children Act 1989 s.47",
                **date_data("ends", timezone.localdate() + dt.timedelta(days=90)),
            },
        ),
    }


POST_ONLY = ("gap-resolve", "share-end")
CHANGE_FORMS = (
    "member-create",
    "member-edit",
    "gap-create",
    "relationship-create",
    "significant-adults",
    "lead-professional",
    "share-create",
)


def _post_only_url(name, family, gap, share) -> str:
    return reverse(name, args=[family.pk, gap.pk if name == "gap-resolve" else share.pk])


def _record_unchanged(family, child, gap, share, before_members: int) -> None:
    family.refresh_from_db()
    child.refresh_from_db()
    gap.refresh_from_db()
    share.refresh_from_db()
    assert Member.objects.filter(family=family).count() == before_members
    assert child.given_name == "Kai"
    assert not InformationGap.objects.exclude(pk=gap.pk).exists()
    assert gap.resolved_at is None
    assert not Relationship.objects.exists()
    assert family.significant_adults_confirmed is False
    assert family.lead_professional.username == "alice"
    assert FamilyShare.objects.count() == 1
    assert share.ended_at is None


@pytest.mark.parametrize("persona", ["practitioner", "teammate", "manager", "admin_user"])
@pytest.mark.parametrize("name", CHANGE_FORMS)
def test_owning_team_and_admin_open_every_form(client, request, forms, persona, name):
    client.force_login(request.getfixturevalue(persona))
    response = client.get(forms[name][0])
    assert response.status_code == 200
    html = _html(response)
    assert 'name="csrfmiddlewaretoken"' in html
    assert "govuk-error-summary" not in html
    assert 'class="govuk-back-link"' in html


@pytest.mark.parametrize("persona", ["teammate", "manager", "admin_user"])
@pytest.mark.parametrize("name", CHANGE_FORMS)
def test_owning_team_and_admin_post_every_form(client, request, forms, family, persona, name):
    client.force_login(request.getfixturevalue(persona))
    url, data = forms[name]
    response = client.post(url, data)
    assert response.status_code == 302, _html(response)
    assert response.url.startswith(reverse("family-detail", args=[family.pk]))


@pytest.mark.parametrize("persona", ["manager", "admin_user"])
@pytest.mark.parametrize("name", POST_ONLY)
def test_owning_team_and_admin_resolve_gaps_and_end_shares(client, request, family, gap, share, persona, name):
    client.force_login(request.getfixturevalue(persona))
    response = client.post(_post_only_url(name, family, gap, share))
    assert response.status_code == 302
    assert client.get(_post_only_url(name, family, gap, share)).status_code == 405


@pytest.mark.parametrize("persona", ["other_team_user", "unshared_partner"])
def test_outsiders_get_404_on_every_form_and_change_nothing(client, request, forms, family, child, gap, share, persona):
    before = Member.objects.filter(family=family).count()
    client.force_login(request.getfixturevalue(persona))
    for name, (url, data) in forms.items():
        response = client.get(url)
        assert response.status_code == 404, name
        assert b"Smith" not in response.content
        assert client.post(url, data).status_code == 404, name
    for name in POST_ONLY:
        assert client.post(_post_only_url(name, family, gap, share)).status_code == 404, name
    _record_unchanged(family, child, gap, share, before)


def test_partner_with_a_share_is_refused_403_on_every_family_record_form(
    client, partner, forms, family, child, gap, share
):
    before = Member.objects.filter(family=family).count()
    client.force_login(partner)
    for name, (url, data) in forms.items():
        assert client.get(url).status_code == 403, name
        assert client.post(url, data).status_code == 403, name
    for name in POST_ONLY:
        assert client.post(_post_only_url(name, family, gap, share)).status_code == 403, name
    _record_unchanged(family, child, gap, share, before)


def test_anonymous_is_sent_to_sign_in_from_every_form(client, forms, family, child, gap, share):
    before = Member.objects.filter(family=family).count()
    urls = [url for url, _ in forms.values()] + [reverse("family-create")]
    for url in urls:
        for response in (client.get(url), client.post(url, {})):
            assert response.status_code == 302, url
            assert response.url == f"{reverse('login')}?next={url}"
    for name in POST_ONLY:
        url = _post_only_url(name, family, gap, share)
        response = client.post(url)
        assert response.status_code == 302
        assert response.url.startswith(reverse("login"))
    _record_unchanged(family, child, gap, share, before)


def test_forms_for_an_unknown_family_are_404(client, practitioner):
    client.force_login(practitioner)
    for name in CHANGE_FORMS:
        args = [999999, 1] if name == "member-edit" else [999999]
        assert client.get(reverse(name, args=args)).status_code == 404, name


# --- add a family ----------------------------------------------------------------------------


def test_add_family_form_offers_the_levels(client, practitioner):
    client.force_login(practitioner)
    html = _html(client.get(reverse("family-create")))
    assert '<h1 class="govuk-heading-l">Add a family</h1>' in html
    assert 'name="level" type="radio" value="early_help" checked' in html
    for level in ("child_in_need", "child_protection", "looked_after"):
        assert f'value="{level}"' in html


def test_add_family_saves_and_goes_to_the_new_family(client, practitioner):
    client.force_login(practitioner)
    response = client.post(
        reverse("family-create"),
        {"name": "Jones family", "level": "child_in_need", "address": "1 High St", "postcode": "NS1 1AA"},
    )
    family = Family.objects.get(name="Jones family")
    assert response.status_code == 302
    assert response.url == reverse("family-detail", args=[family.pk])
    assert family.team == practitioner.team
    assert family.created_by == practitioner
    assert family.level == "child_in_need"
    assert family.postcode == "NS1 1AA"
    assert family.reference.startswith("SG-")

    html = _html(client.get(response.url))
    assert "Jones family created. Now record who is in the family." in html
    assert "Child in need" in html
    assert "Jones family" in _html(client.get(reverse("home")))


def test_add_family_with_no_name_shows_the_error_and_saves_nothing(client, practitioner):
    client.force_login(practitioner)
    response = client.post(reverse("family-create"), {"name": "", "level": "early_help", "postcode": "NS1 1AA"})
    assert response.status_code == 200
    html = _html(response)
    assert_field_error(html, "name", "Enter the family name")
    assert 'value="NS1 1AA"' in html  # what was typed is kept
    assert not Family.objects.exists()


def test_add_family_with_an_unknown_level_is_an_error(client, practitioner):
    client.force_login(practitioner)
    response = client.post(reverse("family-create"), {"name": "Jones family", "level": "urgent"})
    assert response.status_code == 200
    assert_field_error(
        _html(response),
        "level",
        "Select a valid choice. urgent is not one of the available choices.",
        anchor="id_level_0",
    )
    assert not Family.objects.exists()


def test_partner_cannot_add_a_family(client, partner):
    client.force_login(partner)
    response = client.post(reverse("family-create"), {"name": "Jones family", "level": "early_help"})
    # Refused (the service finds no team of the partner's before it checks the role, so the form says so).
    assert response.status_code in (200, 403)
    assert not Family.objects.exists()


def test_admin_offered_add_a_family_can_add_one(client, admin_user, team):
    client.force_login(admin_user)
    assert f'href="{reverse("family-create")}"' in _html(client.get(reverse("home")))
    # An administrator belongs to no team, so chooses the owning team.
    response = client.post(reverse("family-create"), {"name": "Jones family", "level": "early_help"})
    assert response.status_code == 200
    assert "Choose the team that owns the family" in _html(response)
    response = client.post(reverse("family-create"), {"name": "Jones family", "level": "early_help", "team": team.pk})
    assert response.status_code == 302
    assert Family.objects.filter(name="Jones family").exists()


# --- add and change a member -----------------------------------------------------------------


def _member_data(**overrides) -> dict:
    data = {
        "given_name": "Kai",
        "family_name": "Smith",
        "aliases": " Kye, Kai Smith-Jones , ,",
        "role": "child",
        **date_data("date_of_birth", (27, 3, 2019)),
        "lives_in_household": "yes",
        "name_spelling_confirmed": "on",
        "additional_needs": "Cerebral palsy",
        "school": "Northshire Primary",
    }
    data.update(overrides)
    return data


def test_add_member_form_is_prefilled_with_the_family_name_and_the_query(client, practitioner, family):
    client.force_login(practitioner)
    html = _html(client.get(reverse("member-create", args=[family.pk]) + "?role=father&lives_in_household=no"))
    assert 'name="family_name" value="Smith"' in html
    assert '<option value="father" selected>' in html
    assert 'name="lives_in_household" type="radio" value="no" checked' in html
    # The date of birth is three boxes: day, month and year.
    for part in ("day", "month", "year"):
        assert f'name="date_of_birth_{part}"' in html
    assert "<title>Add someone to the family – Safeguarding case record</title>" in html


def test_add_member_saves_aliases_and_date_of_birth_and_shows_them(client, practitioner, family):
    client.force_login(practitioner)
    response = client.post(reverse("member-create", args=[family.pk]), _member_data())
    assert response.status_code == 302
    assert response.url == reverse("family-detail", args=[family.pk]) + "#household"
    member = Member.objects.get(family=family)
    assert member.aliases == ["Kye", "Kai Smith-Jones"]
    assert member.date_of_birth == dt.date(2019, 3, 27)
    assert member.role == "child"
    assert member.lives_in_household is True
    assert member.name_spelling_confirmed is True
    assert member.additional_needs == "Cerebral palsy"

    html = _html(client.get(response.url))
    assert "Kai Smith saved." in html
    assert "Also known as Kye, Kai Smith-Jones" in html
    assert "27 Mar 2019" in html
    assert "Cerebral palsy" in html


def test_add_someone_who_lives_elsewhere(client, practitioner, family):
    client.force_login(practitioner)
    data = _member_data(
        given_name="Dan",
        family_name="Jones",
        aliases="",
        role="father",
        lives_in_household="no",
        contact_phone="07700 900456",
        date_of_birth_day="",
        date_of_birth_month="",
        date_of_birth_year="",
    )
    response = client.post(reverse("member-create", args=[family.pk]), data, follow=True)
    member = Member.objects.get(family=family)
    assert member.lives_in_household is False
    assert member.date_of_birth is None
    assert member.aliases == []
    html = _html(response)
    elsewhere = html[html.index("Lives elsewhere</h3>") : html.index("Other significant adults:")]
    assert "Dan Jones" in elsewhere
    assert "07700 900456" in elsewhere


@pytest.mark.parametrize(
    ("day_month_year", "message"),
    [
        ((31, 2, 2020), "The date must be a real date, for example 27 3 2024."),
        ((12, 13, 2020), "The date must be a real date, for example 27 3 2024."),
        (("x", 3, 2020), "The date must be a real date, for example 27 3 2024."),
        ((27, 3, ""), "The date must include a year."),
        (("", "", 2020), "The date must include a day and month."),
        ((27, 3, 1850), "Enter a year after 1900."),
    ],
)
def test_add_member_with_a_bad_date_of_birth_shows_the_error(client, practitioner, family, day_month_year, message):
    client.force_login(practitioner)
    data = _member_data(**date_data("date_of_birth", day_month_year))
    response = client.post(reverse("member-create", args=[family.pk]), data)
    assert response.status_code == 200
    html = _html(response)
    assert_field_error(html, "date_of_birth", message, anchor="id_date_of_birth_0")
    if day_month_year[0]:
        assert f'name="date_of_birth_day" type="text" inputmode="numeric" value="{day_month_year[0]}"' in html
    assert not Member.objects.exists()


def test_add_member_with_nothing_filled_in_shows_every_error(client, practitioner, family):
    client.force_login(practitioner)
    # (A browser always sends the fields, if empty, and the CSRF token: an empty POST would not be bound.)
    blank = dict.fromkeys(["given_name", "family_name", "role", "date_of_birth_day", "contact_phone"], "")
    response = client.post(reverse("member-create", args=[family.pk]), blank)
    assert response.status_code == 200
    html = _html(response)
    assert_field_error(html, "given_name", "Enter the first name")
    assert_field_error(html, "family_name", "Enter the last name")
    assert_field_error(html, "role", "Choose the person’s role in the family")
    assert_field_error(
        html,
        "lives_in_household",
        "Select yes or no: do they live in the household",
        anchor="id_lives_in_household_0",
    )
    assert not Member.objects.exists()


def test_change_member_form_shows_the_current_details(client, practitioner, family):
    member = MemberFactory(
        family=family, given_name="Kai", aliases=["Kye", "KJ"], date_of_birth=dt.date(2019, 3, 27), role="child"
    )
    client.force_login(practitioner)
    html = _html(client.get(reverse("member-edit", args=[family.pk, member.pk])))
    assert "Change Kai " in html
    assert 'name="given_name" value="Kai"' in html
    assert 'value="Kye, KJ"' in html
    assert 'name="date_of_birth_day" type="text" inputmode="numeric" value="27"' in html
    assert 'name="date_of_birth_month" type="text" inputmode="numeric" value="3"' in html
    assert 'name="date_of_birth_year" type="text" inputmode="numeric" value="2019"' in html
    assert 'name="lives_in_household" type="radio" value="yes" checked' in html


def test_change_member_saves_the_change(client, practitioner, family, child):
    client.force_login(practitioner)
    data = _member_data(given_name="Kye", aliases="Kai, Kaiden", **date_data("date_of_birth", (1, 6, 2018)))
    response = client.post(reverse("member-edit", args=[family.pk, child.pk]), data)
    assert response.status_code == 302
    child.refresh_from_db()
    assert child.given_name == "Kye"
    assert child.aliases == ["Kai", "Kaiden"]
    assert child.date_of_birth == dt.date(2018, 6, 1)
    html = _html(client.get(response.url))
    assert "Kye Smith saved." in html
    assert "Also known as Kai, Kaiden" in html


def test_change_member_with_a_bad_date_changes_nothing(client, practitioner, family, child):
    before = child.date_of_birth
    client.force_login(practitioner)
    data = _member_data(given_name="Kye", **date_data("date_of_birth", (31, 2, 2020)))
    response = client.post(reverse("member-edit", args=[family.pk, child.pk]), data)
    assert response.status_code == 200
    assert_field_error(
        _html(response),
        "date_of_birth",
        "The date must be a real date, for example 27 3 2024.",
        anchor="id_date_of_birth_0",
    )
    child.refresh_from_db()
    assert (child.given_name, child.date_of_birth) == ("Kai", before)


def test_change_member_role_against_their_appointments_shows_the_services_error(client, practitioner, family, child):
    AppointmentFactory(member=child, status="was_not_brought")
    client.force_login(practitioner)
    response = client.post(reverse("member-edit", args=[family.pk, child.pk]), _member_data(role="sibling"))
    assert response.status_code == 200
    assert_field_error(
        _html(response),
        "role",
        "This person has appointments recorded as 'was_not_brought'; correct those before changing the role.",
    )
    child.refresh_from_db()
    assert child.role == "child"


def test_member_of_another_family_is_404(client, practitioner, family, team):
    stranger = MemberFactory(family=FamilyFactory(team=team))
    client.force_login(practitioner)
    assert client.get(reverse("member-edit", args=[family.pk, stranger.pk])).status_code == 404
    assert client.post(reverse("member-edit", args=[family.pk, stranger.pk]), _member_data()).status_code == 404


# --- information gaps ------------------------------------------------------------------------


def test_gap_form_about_a_member_is_prefilled(client, practitioner, family, child):
    client.force_login(practitioner)
    html = _html(client.get(reverse("gap-create", args=[family.pk]) + f"?member={child.pk}&subject=parent"))
    assert "Record what is not known about Kai Smith" in html
    assert f'<input type="hidden" name="member" value="{child.pk}">' in html
    assert 'name="subject" value="parent"' in html


def test_record_a_gap_with_reason_and_revisit_date(client, practitioner, family, child, mother):
    revisit = timezone.localdate() + dt.timedelta(days=28)
    client.force_login(practitioner)
    response = client.post(
        reverse("gap-create", args=[family.pk]),
        {
            "member": child.pk,
            "subject": "Parent",
            "reason": "declined",
            **date_data("revisit_on", revisit),
            "note": "Mum would not say",
        },
    )
    assert response.status_code == 302
    gap = InformationGap.objects.get(family=family)
    assert (gap.member, gap.subject, gap.reason, gap.revisit_on) == (child, "parent", "declined", revisit)
    assert gap.note == "Mum would not say"
    assert gap.recorded_by == practitioner

    html = _html(client.get(response.url))
    assert "Recorded. You will be prompted to ask again on the date you gave." in html
    assert "Kai Smith has" not in html  # the gap explains the missing parent for now
    not_known = html[html.index("Not known yet</h3>") :]
    assert "Parent (Kai Smith)" in not_known
    assert "Family declined to say" in not_known
    assert f"{revisit:%-d %b %Y}" in not_known


def test_gap_without_reason_or_date_shows_both_errors(client, practitioner, family):
    client.force_login(practitioner)
    response = client.post(
        reverse("gap-create", args=[family.pk]), {"subject": "father", **date_data("revisit_on", ("", "", ""))}
    )
    assert response.status_code == 200
    html = _html(response)
    assert_field_error(html, "reason", "Select why it is not known", anchor="id_reason_0")
    assert_field_error(html, "revisit_on", "Enter the date to ask again", anchor="id_revisit_on_0")
    assert not InformationGap.objects.exists()


def test_gap_about_a_member_of_another_family_is_404(client, practitioner, family, team):
    stranger = MemberFactory(family=FamilyFactory(team=team))
    client.force_login(practitioner)
    assert client.get(reverse("gap-create", args=[family.pk]) + f"?member={stranger.pk}").status_code == 404


def test_resolve_a_gap(client, practitioner, family, gap):
    client.force_login(practitioner)
    response = client.post(reverse("gap-resolve", args=[family.pk, gap.pk]))
    assert response.status_code == 302
    assert response.url == reverse("family-detail", args=[family.pk]) + "#household"
    gap.refresh_from_db()
    assert gap.resolved_at is not None
    html = _html(client.get(response.url))
    assert "‘father’ marked as known now." in html
    assert "Not known yet</h3>" not in html


def test_resolve_refuses_get_and_another_familys_gap(client, practitioner, family, gap, team):
    other = InformationGap.objects.create(family=FamilyFactory(team=team), subject="mother", reason="unknown")
    client.force_login(practitioner)
    assert client.get(reverse("gap-resolve", args=[family.pk, gap.pk])).status_code == 405
    assert client.post(reverse("gap-resolve", args=[family.pk, other.pk])).status_code == 404
    gap.refresh_from_db()
    other.refresh_from_db()
    assert gap.resolved_at is None and other.resolved_at is None


# --- relationships ---------------------------------------------------------------------------


def test_relationship_form_is_prefilled_from_the_gap_link(client, practitioner, family, child, mother):
    client.force_login(practitioner)
    html = _html(client.get(reverse("relationship-create", args=[family.pk]) + f"?kind=parent_of&to_member={child.pk}"))
    to_member = html[html.index('name="to_member"') :]
    assert f'<option value="{child.pk}" selected>Kai Smith (child)</option>' in to_member
    assert 'value="parent_of" checked' in html
    assert "Jade Smith (mother)" in html


def test_record_a_parent_relationship(client, practitioner, family, child, mother):
    client.force_login(practitioner)
    response = client.post(
        reverse("relationship-create", args=[family.pk]),
        {"from_member": mother.pk, "kind": "parent_of", "to_member": child.pk},
        follow=True,
    )
    rel = Relationship.objects.get()
    assert (rel.from_member, rel.kind, rel.to_member, rel.family) == (mother, "parent_of", child, family)
    html = _html(response)
    assert "Relationship recorded." in html
    assert "Parents: Jade Smith" in html


def test_record_a_partner_relationship(client, practitioner, family, mother):
    lee = MemberFactory(family=family, given_name="Lee", family_name="Park", role="partner", lives_in_household=False)
    client.force_login(practitioner)
    response = client.post(
        reverse("relationship-create", args=[family.pk]),
        {"from_member": lee.pk, "kind": "partner_of", "to_member": mother.pk},
        follow=True,
    )
    assert "Partner of Lee Park" in _html(response)


@pytest.mark.parametrize(
    ("case", "field", "message"),
    [
        ("parent of an adult", "to_member", "A parent relationship points to a child."),
        ("self", "to_member", "A person cannot be related to themselves."),
        pytest.param(
            "duplicate",
            "kind",
            "This relationship is already recorded.",
        ),
    ],
)
def test_bad_relationship_shows_the_services_error(client, practitioner, family, child, mother, case, field, message):
    data = {"from_member": mother.pk, "kind": "parent_of", "to_member": child.pk}
    if case == "parent of an adult":
        data["to_member"] = MemberFactory(family=family, role="father").pk
    elif case == "self":
        data.update(from_member=child.pk, kind="partner_of")
    else:
        Relationship.objects.create(family=family, from_member=mother, to_member=child, kind="parent_of")
    before = Relationship.objects.count()
    client.force_login(practitioner)
    response = client.post(reverse("relationship-create", args=[family.pk]), data)
    assert response.status_code == 200
    html = _html(response)
    assert "govuk-error-summary" in html
    assert f"{escape(message)}</p>" in html
    assert f'id="id_{field}-error"' in html
    assert Relationship.objects.count() == before


def test_duplicate_relationship_is_refused_and_nothing_saved(client, practitioner, family, child, mother):
    Relationship.objects.create(family=family, from_member=mother, to_member=child, kind="parent_of")
    client.force_login(practitioner)
    response = client.post(
        reverse("relationship-create", args=[family.pk]),
        {"from_member": mother.pk, "kind": "parent_of", "to_member": child.pk},
    )
    assert response.status_code == 200
    html = _html(response)
    assert 'class="govuk-error-summary"' in html
    assert "already" in html[html.index("govuk-error-summary__list") :][:400]
    assert Relationship.objects.count() == 1


def test_relationship_with_someone_outside_the_family_or_missing_fields(client, practitioner, family, child, team):
    stranger = MemberFactory(family=FamilyFactory(team=team), role="mother")
    client.force_login(practitioner)
    url = reverse("relationship-create", args=[family.pk])
    response = client.post(url, {"from_member": stranger.pk, "kind": "parent_of", "to_member": child.pk})
    assert response.status_code == 200
    assert_field_error(
        _html(response), "from_member", f"Select a valid choice. {stranger.pk} is not one of the available choices."
    )
    response = client.post(url, {"from_member": "", "to_member": ""})
    html = _html(response)
    assert_field_error(html, "from_member", "Choose who")
    assert_field_error(html, "to_member", "Choose whose")
    assert_field_error(html, "kind", "Select the relationship", anchor="id_kind_0")
    assert not Relationship.objects.exists()


# --- other significant adults ----------------------------------------------------------------


def test_significant_adults_answered_yes(client, practitioner, family):
    client.force_login(practitioner)
    response = client.post(
        reverse("significant-adults", args=[family.pk]),
        {"significant_adults_confirmed": "yes", "significant_adults_note": "Mum's new partner, Lee, visits weekly"},
        follow=True,
    )
    family.refresh_from_db()
    assert family.significant_adults_confirmed is True
    assert family.significant_adults_confirmed_at is not None
    assert family.significant_adults_note == "Mum's new partner, Lee, visits weekly"
    html = _html(response)
    assert "Answer about other significant adults saved." in html
    assert "Asked and answered</strong> “Mum&#x27;s new partner, Lee, visits weekly”" in html
    assert "has not been asked about other significant adults" not in html


def test_significant_adults_answered_no(client, practitioner, family):
    family.significant_adults_confirmed = True
    family.save()
    client.force_login(practitioner)
    html = _html(client.get(reverse("significant-adults", args=[family.pk])))
    assert 'name="significant_adults_confirmed" type="radio" value="yes" checked' in html
    response = client.post(reverse("significant-adults", args=[family.pk]), {"significant_adults_confirmed": "no"})
    assert response.status_code == 302
    family.refresh_from_db()
    assert family.significant_adults_confirmed is False
    assert family.significant_adults_confirmed_at is None
    assert "Not yet asked</strong>" in _html(client.get(response.url))


def test_significant_adults_with_no_answer_is_an_error(client, practitioner, family):
    client.force_login(practitioner)
    response = client.post(reverse("significant-adults", args=[family.pk]), {"significant_adults_note": "x"})
    assert response.status_code == 200
    assert_field_error(
        _html(response),
        "significant_adults_confirmed",
        "Select yes or no: has the family been asked about other significant adults",
        anchor="id_significant_adults_confirmed_0",
    )
    family.refresh_from_db()
    assert family.significant_adults_note == ""


# --- lead professional -----------------------------------------------------------------------


def test_lead_professional_choices_are_the_team_and_shared_agencies(
    client, practitioner, teammate, manager, partner, share, other_team_user, admin_user, family
):
    teammate.first_name, teammate.last_name = "Bob", "Mensah"
    teammate.save()
    client.force_login(practitioner)
    html = _html(client.get(reverse("lead-professional", args=[family.pk])))
    select = html[html.index('name="user"') : html.index("</select>")]
    assert f'<option value="{practitioner.pk}" selected>' in select
    assert f'<option value="{teammate.pk}">Bob Mensah — Northshire Children&#x27;s Services</option>' in select
    assert f'value="{manager.pk}"' in select
    assert f'value="{partner.pk}"' in select  # a health visitor may lead
    assert f'value="{other_team_user.pk}"' not in select
    assert f'value="{admin_user.pk}"' not in select


def test_set_a_teammate_as_lead_professional(client, practitioner, teammate, family):
    teammate.first_name, teammate.last_name, teammate.phone = "Bob", "Mensah", "01632 960002"
    teammate.save()
    client.force_login(practitioner)
    response = client.post(reverse("lead-professional", args=[family.pk]), {"user": teammate.pk})
    assert response.status_code == 302
    assert response.url == reverse("family-detail", args=[family.pk])
    family.refresh_from_db()
    assert family.lead_professional == teammate
    assert LeadProfessionalAssignment.objects.get(family=family, ended_at__isnull=True).user == teammate

    html = _html(client.get(response.url))
    assert "Bob Mensah is now the lead professional." in html
    banner = html[html.index('aria-label="Lead professional"') :]
    assert "<strong>Bob Mensah</strong>" in banner[:600]
    assert "tel:01632 960002" in banner[:600]
    assert "Bob Mensah became lead professional." in html  # in the chronology


def test_set_a_shared_partner_as_lead_professional(client, practitioner, partner, share, family):
    client.force_login(practitioner)
    response = client.post(reverse("lead-professional", args=[family.pk]), {"user": partner.pk})
    assert response.status_code == 302
    family.refresh_from_db()
    assert family.lead_professional == partner


@pytest.mark.parametrize("who", ["other_team_user", "nobody", "inactive"])
def test_lead_professional_must_be_a_candidate(client, request, practitioner, family, team, who):
    client.force_login(practitioner)
    if who == "nobody":
        data, message = {"user": ""}, "Choose the lead professional"
    else:
        user = (
            request.getfixturevalue(who)
            if who != "inactive"
            else UserFactory(team=team, agency=team.agency, is_active=False)
        )
        data = {"user": user.pk}
        message = "Select a valid choice. That choice is not one of the available choices."
    response = client.post(reverse("lead-professional", args=[family.pk]), data)
    assert response.status_code == 200
    assert_field_error(_html(response), "user", message)
    family.refresh_from_db()
    assert family.lead_professional == practitioner


# --- sharing ---------------------------------------------------------------------------------


def test_share_form_offers_partner_agencies_not_our_own(client, practitioner, family, health_agency):
    client.force_login(practitioner)
    html = _html(client.get(reverse("share-create", args=[family.pk])))
    select = html[html.index('name="agency"') : html.index("</select>")]
    assert "Northshire Health Visiting" in select
    assert "Northshire Children" not in select
    assert "never a confidential referrer" in html


def test_share_with_an_agency_then_end_it(client, practitioner, partner, family, child, health_agency):
    client.force_login(partner)
    assert client.get(reverse("family-detail", args=[family.pk])).status_code == 404

    ends = timezone.localdate() + dt.timedelta(days=90)
    client.force_login(practitioner)
    response = client.post(
        reverse("share-create", args=[family.pk]),
        {
            "agency": health_agency.pk,
            "purpose": "Health visiting for Kai",
            "legal_basis": "Children Act 1989 s.17; UK GDPR 6(1)(e), 9(2)(h)",
            **date_data("ends", ends),
        },
    )
    assert response.status_code == 302
    assert response.url == reverse("family-detail", args=[family.pk]) + "#team"
    share = FamilyShare.objects.get(family=family)
    assert (share.agency, share.purpose, share.starts, share.ends) == (
        health_agency,
        "Health visiting for Kai",
        timezone.localdate(),
        ends,
    )
    assert share.legal_basis == "Children Act 1989 s.17; UK GDPR 6(1)(e), 9(2)(h)"
    assert share.created_by == practitioner
    html = _html(client.get(response.url))
    assert "The record is shared with Northshire Health Visiting." in html
    assert f"record shared until {ends:%-d %b %Y}" in html

    client.force_login(partner)
    assert client.get(reverse("family-detail", args=[family.pk])).status_code == 200
    assert client.get(reverse("visit-create", args=[family.pk])).status_code == 200

    client.force_login(practitioner)
    response = client.post(reverse("share-end", args=[family.pk, share.pk]))
    assert response.status_code == 302
    share.refresh_from_db()
    assert share.ended_at is not None
    assert share.ended_by == practitioner
    html = _html(client.get(response.url))
    assert "Sharing with Northshire Health Visiting has ended." in html
    assert "End sharing with" not in html

    client.force_login(partner)
    assert client.get(reverse("family-detail", args=[family.pk])).status_code == 404
    assert client.get(reverse("visit-create", args=[family.pk])).status_code == 404
    assert client.get(reverse("appointment-create", args=[family.pk])).status_code == 404
    assert "Smith family" not in _html(client.get(reverse("home")))


def test_share_without_purpose_or_legal_basis_shows_the_errors(client, practitioner, family, health_agency):
    client.force_login(practitioner)
    response = client.post(reverse("share-create", args=[family.pk]), {"agency": health_agency.pk})
    assert response.status_code == 200
    html = _html(response)
    assert_field_error(html, "purpose", "Enter the purpose of sharing")
    assert_field_error(html, "legal_basis", "Enter the legal basis for sharing")
    assert not FamilyShare.objects.exists()


def test_share_ending_before_it_starts_is_an_error(client, practitioner, family, health_agency):
    today = timezone.localdate()
    client.force_login(practitioner)
    response = client.post(
        reverse("share-create", args=[family.pk]),
        {
            "agency": health_agency.pk,
            "purpose": "Health visiting",
            "legal_basis": "s.17",
            **date_data("starts", today + dt.timedelta(days=10)),
            **date_data("ends", today + dt.timedelta(days=5)),
        },
    )
    assert response.status_code == 200
    assert_field_error(_html(response), "ends", "The share cannot end before it starts.", anchor="id_ends_0")
    assert not FamilyShare.objects.exists()


def test_share_with_our_own_agency_or_none_is_an_error(client, practitioner, family, council):
    client.force_login(practitioner)
    url = reverse("share-create", args=[family.pk])
    response = client.post(url, {"agency": council.pk, "purpose": "x", "legal_basis": "y"})
    assert_field_error(
        _html(response), "agency", "Select a valid choice. That choice is not one of the available choices."
    )
    response = client.post(url, {"purpose": "x", "legal_basis": "y"})
    assert_field_error(_html(response), "agency", "Choose the agency to share with")
    assert not FamilyShare.objects.exists()


def test_ending_another_familys_share_is_404(client, practitioner, family, team, health_agency):
    other = ShareFactory(family=FamilyFactory(team=team), agency=health_agency)
    client.force_login(practitioner)
    assert client.post(reverse("share-end", args=[family.pk, other.pk])).status_code == 404
    other.refresh_from_db()
    assert other.ended_at is None


# --- CSRF ------------------------------------------------------------------------------------


def _csrf_token(client: Client) -> str:
    return client.cookies["csrftoken"].value


@pytest.mark.parametrize("name", ["family-create", "member-create", "significant-adults", "gap-resolve", "share-end"])
def test_forms_carry_a_csrf_token_and_a_post_without_it_is_refused(practitioner, family, gap, share, name):
    client = Client(enforce_csrf_checks=True)
    client.force_login(practitioner)
    if name in POST_ONLY:
        url = _post_only_url(name, family, gap, share)
        page = _html(client.get(reverse("family-detail", args=[family.pk])))
        assert re.search(rf'action="{re.escape(url)}"[^>]*>\s*<input type="hidden" name="csrfmiddlewaretoken"', page)
        data = {}
    else:
        url = reverse(name) if name == "family-create" else reverse(name, args=[family.pk])
        page = _html(client.get(url))
        assert 'name="csrfmiddlewaretoken"' in page
        data = (
            {"name": "Jones family", "level": "early_help"}
            if name == "family-create"
            else {"given_name": "Dan", "family_name": "Jones", "role": "father", "lives_in_household": "no"}
            if name == "member-create"
            else {"significant_adults_confirmed": "yes"}
        )

    assert client.post(url, data).status_code == 403
    family.refresh_from_db()
    gap.refresh_from_db()
    share.refresh_from_db()
    assert Family.objects.count() == 1
    assert not Member.objects.filter(given_name="Dan").exists()
    assert family.significant_adults_confirmed is False
    assert gap.resolved_at is None and share.ended_at is None

    # The same POST with the token goes through.
    assert client.post(url, {**data, "csrfmiddlewaretoken": _csrf_token(client)}).status_code == 302
