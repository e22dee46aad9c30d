"""Logging visits and recording appointments in the browser: personas, valid and bad input, the
words for a child's missed appointment, and CSRF."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from cases.tests.factories import AgencyFactory, FamilyFactory, MemberFactory
from cases.tests.test_views_forms import (
    PROJECT_FORM_RENDERER,
    assert_field_error,
    date_data,
)
from visits.models import Appointment, Visit
from visits.tests.factories import AppointmentFactory, VisitFactory

pytestmark = pytest.mark.django_db

DAY = dt.date(2026, 3, 27)


def _html(response) -> str:
    return response.content.decode()


def _without_csrf_token(html: str) -> str:
    """The page without the (random) CSRF token, so a search for a word cannot hit it by chance."""
    return re.sub(r'name="csrfmiddlewaretoken" value="[^"]*"', "", html)


def _visit_data(**overrides) -> dict:
    data = {
        "planned": "yes",
        "purpose": "Review the safety plan with mum",
        "expected_outcome": "Safety plan agreed and signed",
        "purpose_shared_with_family": "on",
        **date_data("date", DAY),
        "time": "14:30",
        "status": "completed",
        "outcome": "Plan agreed",
        "next_steps": "Review in 2 weeks",
        "voice_of_child": "Kai said he likes his new bed",
        "home_conditions": "Warm, food in the fridge",
    }
    data.update(overrides)
    return data


def _appointment_data(member, agency, **overrides) -> dict:
    data = {
        "member": member.pk,
        "agency": agency.pk,
        "kind": "health_review",
        **date_data("date", DAY),
        "time": "10:00",
        "status": "attended",
        "notes": "",
    }
    data.update(overrides)
    return data


def _visit_url(family, visit=None) -> str:
    return reverse("visit-edit", args=[family.pk, visit.pk]) if visit else reverse("visit-create", args=[family.pk])


def _appointment_url(family, appointment=None) -> str:
    if appointment:
        return reverse("appointment-edit", args=[family.pk, appointment.pk])
    return reverse("appointment-create", args=[family.pk])


def _chronology(client, family) -> str:
    html = _html(client.get(reverse("family-detail", args=[family.pk])))
    return html[html.index('<div id="chronology-list">') :]


# --- the project's form renderer -------------------------------------------------------------


@pytest.mark.parametrize("name", ["visit-create", "appointment-create"])
def test_visit_and_appointment_forms_render_with_the_projects_form_renderer(
    client, settings, practitioner, family, name
):
    settings.FORM_RENDERER = PROJECT_FORM_RENDERER
    client.force_login(practitioner)
    assert client.get(reverse(name, args=[family.pk])).status_code == 200


# --- personas --------------------------------------------------------------------------------


@pytest.fixture
def records(family, child, practitioner):
    visit = VisitFactory(family=family, practitioner=practitioner)
    appointment = AppointmentFactory(member=child)
    return {
        "visit-create": _visit_url(family),
        "visit-edit": _visit_url(family, visit),
        "appointment-create": _appointment_url(family),
        "appointment-edit": _appointment_url(family, appointment),
    }


@pytest.mark.parametrize("persona", ["practitioner", "teammate", "manager", "admin_user"])
def test_owning_team_and_admin_open_every_visit_and_appointment_form(client, request, records, persona):
    client.force_login(request.getfixturevalue(persona))
    for name, url in records.items():
        response = client.get(url)
        assert response.status_code == 200, name
        assert 'name="csrfmiddlewaretoken"' in _html(response)


def test_partner_with_a_share_opens_the_visit_and_appointment_forms(client, partner, share, records):
    client.force_login(partner)
    assert client.get(records["visit-create"]).status_code == 200
    assert client.get(records["appointment-create"]).status_code == 200


@pytest.mark.parametrize("persona", ["other_team_user", "unshared_partner"])
def test_outsiders_get_404_on_visit_and_appointment_forms(client, request, records, family, child, mother, persona):
    client.force_login(request.getfixturevalue(persona))
    agency = AgencyFactory(name="Northshire Police")
    for name, url in records.items():
        response = client.get(url)
        assert response.status_code == 404, name
        assert b"Smith" not in response.content
        data = _visit_data() if name.startswith("visit") else _appointment_data(mother, agency)
        assert client.post(url, data).status_code == 404, name
    assert Visit.objects.count() == 1
    assert Appointment.objects.count() == 1
    assert Visit.objects.get().outcome == ""


def test_anonymous_is_sent_to_sign_in(client, records):
    for url in records.values():
        for response in (client.get(url), client.post(url, _visit_data())):
            assert response.status_code == 302
            assert response.url == f"{reverse('login')}?next={url}"


# --- logging a visit -------------------------------------------------------------------------


def test_visit_form_offers_the_children_only(client, practitioner, family, child, mother):
    client.force_login(practitioner)
    html = _html(client.get(_visit_url(family)))
    seen = html[html.index('name="children_seen"') - 400 : html.index("Children seen alone")]
    assert f'value="{child.pk}"' in seen and "Kai Smith" in seen
    assert "Jade Smith" not in html
    assert 'name="planned" type="radio" value="yes" checked' in html
    assert '<h1 class="govuk-heading-l">Log a visit</h1>' in html


def test_several_children_can_be_ticked_as_seen(client, practitioner, family, child):
    MemberFactory(family=family, given_name="Mia", family_name="Smith", role="child")
    client.force_login(practitioner)
    html = _html(client.get(_visit_url(family)))
    assert html.count('name="children_seen" type="checkbox"') == 2
    assert html.count('name="children_seen_alone" type="checkbox"') == 2
    assert 'name="children_seen" type="radio"' not in html


def test_several_children_seen_are_saved_when_posted(client, practitioner, family, child):
    mia = MemberFactory(family=family, given_name="Mia", family_name="Smith", role="child")
    client.force_login(practitioner)
    response = client.post(
        _visit_url(family), _visit_data(children_seen=[child.pk, mia.pk], children_seen_alone=[mia.pk])
    )
    assert response.status_code == 302
    visit = Visit.objects.get()
    assert set(visit.children_seen.all()) == {child, mia}
    assert list(visit.children_seen_alone.all()) == [mia]


def test_planned_visit_without_purpose_and_expected_outcome_shows_both_errors(client, practitioner, family, child):
    client.force_login(practitioner)
    response = client.post(_visit_url(family), _visit_data(purpose=" ", expected_outcome=""))
    assert response.status_code == 200
    html = _html(response)
    assert_field_error(html, "purpose", "Enter the purpose of the planned visit")
    assert_field_error(html, "expected_outcome", "Enter the expected outcome of the planned visit")
    assert "Kai said he likes his new bed" in html  # what was typed is kept
    assert not Visit.objects.exists()


def test_planned_visit_with_purpose_is_saved_and_in_the_chronology(client, practitioner, family, child):
    client.force_login(practitioner)
    response = client.post(_visit_url(family), _visit_data(children_seen=[child.pk], children_seen_alone=[child.pk]))
    assert response.status_code == 302
    assert response.url == reverse("family-detail", args=[family.pk]) + "#chronology"
    visit = Visit.objects.get()
    assert visit.family == family
    assert visit.planned is True
    assert visit.purpose == "Review the safety plan with mum"
    assert visit.expected_outcome == "Safety plan agreed and signed"
    assert visit.purpose_shared_with_family is True
    assert visit.scheduled_for == timezone.make_aware(dt.datetime(2026, 3, 27, 14, 30))
    assert visit.status == "completed"
    assert visit.practitioner == practitioner
    assert visit.agency == practitioner.agency
    assert visit.voice_of_child == "Kai said he likes his new bed"
    assert list(visit.children_seen.all()) == [child]
    assert list(visit.children_seen_alone.all()) == [child]

    page = _html(client.get(response.url))
    assert "Visit saved." in page
    chronology = page[page.index('<div id="chronology-list">') :]
    assert "Planned visit: completed. Purpose: Review the safety plan with mum" in chronology
    assert "27 Mar 2026, 14:30" in chronology


def test_unplanned_visit_without_purpose_is_saved(client, practitioner, family):
    client.force_login(practitioner)
    response = client.post(
        _visit_url(family), _visit_data(planned="no", purpose="", expected_outcome="", status="no_access", time="")
    )
    assert response.status_code == 302
    visit = Visit.objects.get()
    assert visit.planned is False
    assert visit.purpose == ""
    assert visit.scheduled_for == timezone.make_aware(dt.datetime(2026, 3, 27, 9, 0))  # no time: 09:00
    assert "Unplanned visit: no access." in _chronology(client, family)


def test_child_seen_alone_must_be_among_the_children_seen(client, practitioner, family, child):
    other = MemberFactory(family=family, given_name="Mia", family_name="Smith", role="child")
    client.force_login(practitioner)
    response = client.post(_visit_url(family), _visit_data(children_seen=[other.pk], children_seen_alone=[child.pk]))
    assert response.status_code == 200
    assert_field_error(
        _html(response),
        "children_seen_alone",
        "A child seen alone must also be among the children seen.",
        anchor="id_children_seen_alone_0",
    )
    assert not Visit.objects.exists()


def test_an_adult_cannot_be_recorded_as_a_child_seen(client, practitioner, family, child, mother):
    client.force_login(practitioner)
    response = client.post(_visit_url(family), _visit_data(children_seen=[mother.pk]))
    assert response.status_code == 200
    assert_field_error(
        _html(response),
        "children_seen",
        f"Select a valid choice. {mother.pk} is not one of the available choices.",
        anchor="id_children_seen_0",
    )
    assert not Visit.objects.exists()


def test_visit_without_date_or_status_and_with_a_bad_time(client, practitioner, family):
    client.force_login(practitioner)
    data = _visit_data(status="", time="25:99", **date_data("date", ("", "", "")))
    response = client.post(_visit_url(family), data)
    assert response.status_code == 200
    html = _html(response)
    assert_field_error(html, "date", "Enter the date of the visit", anchor="id_date_0")
    assert_field_error(html, "status", "Select what happened", anchor="id_status_0")
    assert_field_error(html, "time", "Enter a time in the 24-hour clock, for example 14:30.")
    assert not Visit.objects.exists()


def test_visit_without_a_date_says_enter_the_date(client, practitioner, family):
    client.force_login(practitioner)
    response = client.post(_visit_url(family), _visit_data(**date_data("date", ("", "", ""))))
    assert_field_error(_html(response), "date", "Enter the date of the visit", anchor="id_date_0")


def test_change_a_visit(client, practitioner, family, child):
    visit = VisitFactory(
        family=family,
        practitioner=practitioner,
        status="scheduled",
        scheduled_for=timezone.make_aware(dt.datetime(2026, 3, 27, 11, 15)),
    )
    visit.children_seen.set([child])
    client.force_login(practitioner)
    html = _html(client.get(_visit_url(family, visit)))
    assert '<h1 class="govuk-heading-l">Change a visit</h1>' in html
    assert "Review the safety plan with mum</textarea>" in html
    assert 'name="date_day" type="text" inputmode="numeric" value="27"' in html
    assert 'value="11:15"' in html
    assert 'name="status" type="radio" value="scheduled" checked' in html
    assert re.search(rf'name="children_seen" type="\w+" value="{child.pk}" checked', html)

    response = client.post(
        _visit_url(family, visit), _visit_data(status="no_access", outcome="Nobody answered", children_seen=[])
    )
    assert response.status_code == 302
    visit.refresh_from_db()
    assert visit.status == "no_access"
    assert visit.outcome == "Nobody answered"
    assert list(visit.children_seen.all()) == []
    assert Visit.objects.count() == 1
    assert "Planned visit: no access." in _chronology(client, family)


def test_changing_a_planned_visit_to_have_no_purpose_is_refused(client, practitioner, family):
    visit = VisitFactory(family=family, practitioner=practitioner)
    client.force_login(practitioner)
    response = client.post(_visit_url(family, visit), _visit_data(purpose=""))
    assert response.status_code == 200
    assert_field_error(_html(response), "purpose", "Enter the purpose of the planned visit")
    visit.refresh_from_db()
    assert visit.purpose == "Review the safety plan with mum"


def test_a_visit_of_another_family_cannot_be_changed_through_this_one(client, practitioner, family, team):
    other = VisitFactory(family=FamilyFactory(team=team))
    client.force_login(practitioner)
    assert client.get(_visit_url(family, other)).status_code in (403, 404)
    assert client.post(_visit_url(family, other), _visit_data(outcome="Hijack")).status_code in (403, 404)
    other.refresh_from_db()
    assert other.outcome == ""


def test_partner_logs_a_visit_for_their_own_agency(client, partner, share, family, child):
    client.force_login(partner)
    response = client.post(_visit_url(family), _visit_data(children_seen=[child.pk]))
    assert response.status_code == 302
    visit = Visit.objects.get()
    assert visit.agency == partner.agency
    assert visit.practitioner == partner
    chronology = _chronology(client, family)
    assert "Planned visit: completed." in chronology
    assert "Northshire Health Visiting" in chronology


def test_partner_changes_their_own_visit_but_not_the_teams(client, partner, share, practitioner, family):
    own = VisitFactory(family=family, practitioner=partner, agency=partner.agency)
    teams = VisitFactory(family=family, practitioner=practitioner)
    client.force_login(partner)
    assert client.post(_visit_url(family, own), _visit_data(outcome="Weighed baby")).status_code == 302
    own.refresh_from_db()
    assert own.outcome == "Weighed baby"
    assert client.post(_visit_url(family, teams), _visit_data(outcome="Changed by partner")).status_code == 403
    teams.refresh_from_db()
    assert teams.outcome == ""


def test_visit_post_without_csrf_token_is_refused(practitioner, family):
    client = Client(enforce_csrf_checks=True)
    client.force_login(practitioner)
    assert 'name="csrfmiddlewaretoken"' in _html(client.get(_visit_url(family)))
    assert client.post(_visit_url(family), _visit_data()).status_code == 403
    assert not Visit.objects.exists()
    token = client.cookies["csrftoken"].value
    assert client.post(_visit_url(family), {**_visit_data(), "csrfmiddlewaretoken": token}).status_code == 302


# --- recording an appointment ----------------------------------------------------------------


def test_a_childs_appointment_offers_was_not_brought_never_did_not_attend(client, practitioner, family, child):
    client.force_login(practitioner)
    response = client.get(_appointment_url(family) + f"?member={child.pk}")
    assert response.status_code == 200
    html = _without_csrf_token(_html(response))
    assert "Was not brought" in html
    assert 'value="was_not_brought"' in html
    assert "Did not attend" not in html
    assert "did_not_attend" not in html
    assert "DNA" not in html
    assert f'<option value="{child.pk}" selected>Kai Smith</option>' in html


def test_an_adults_appointment_offers_did_not_attend_not_was_not_brought(client, practitioner, family, mother):
    client.force_login(practitioner)
    html = _without_csrf_token(_html(client.get(_appointment_url(family) + f"?member={mother.pk}")))
    assert "Did not attend" in html
    assert "Was not brought" not in html


def test_with_nobody_chosen_both_are_offered_with_adults_only_said(client, practitioner, family, child):
    client.force_login(practitioner)
    html = _html(client.get(_appointment_url(family)))
    assert "Was not brought" in html
    assert "Did not attend (adults only)" in html
    # The agency defaults to the user's own.
    assert f'<option value="{practitioner.agency_id}" selected>' in html


def test_member_of_another_family_in_the_query_is_404(client, practitioner, family, team):
    stranger = MemberFactory(family=FamilyFactory(team=team))
    client.force_login(practitioner)
    assert client.get(_appointment_url(family) + f"?member={stranger.pk}").status_code == 404


def test_did_not_attend_for_a_child_is_an_error_at_the_status(client, practitioner, family, child, health_agency):
    client.force_login(practitioner)
    response = client.post(_appointment_url(family), _appointment_data(child, health_agency, status="did_not_attend"))
    assert response.status_code == 200
    html = _without_csrf_token(_html(response))
    assert_field_error(
        html,
        "status",
        "Select a valid choice. did_not_attend is not one of the available choices.",
        anchor="id_status_0",
    )
    assert "Did not attend" not in html  # the re-rendered choices still fit the child
    assert not Appointment.objects.exists()


def test_was_not_brought_for_a_child_is_saved_and_in_the_chronology(client, practitioner, family, child, health_agency):
    client.force_login(practitioner)
    data = _appointment_data(child, health_agency, status="was_not_brought", critical="on", kind="paediatric_review")
    response = client.post(_appointment_url(family), data)
    assert response.status_code == 302
    assert response.url == reverse("family-detail", args=[family.pk]) + "#chronology"
    appointment = Appointment.objects.get()
    assert (appointment.member, appointment.family, appointment.agency) == (child, family, health_agency)
    assert appointment.status == "was_not_brought"
    assert appointment.for_child is True
    assert appointment.critical is True
    assert appointment.scheduled_for == timezone.make_aware(dt.datetime(2026, 3, 27, 10, 0))
    assert appointment.created_by == practitioner
    assert "Kai Smith: Paediatric review (critical) — was not brought." in _chronology(client, family)


def test_was_not_brought_for_an_adult_is_an_error(client, practitioner, family, mother, health_agency):
    client.force_login(practitioner)
    response = client.post(_appointment_url(family), _appointment_data(mother, health_agency, status="was_not_brought"))
    assert response.status_code == 200
    assert_field_error(
        _html(response),
        "status",
        "Select a valid choice. was_not_brought is not one of the available choices.",
        anchor="id_status_0",
    )
    assert not Appointment.objects.exists()


def test_did_not_attend_for_an_adult_is_saved(client, practitioner, family, mother, health_agency):
    client.force_login(practitioner)
    response = client.post(_appointment_url(family), _appointment_data(mother, health_agency, status="did_not_attend"))
    assert response.status_code == 302
    assert Appointment.objects.get().status == "did_not_attend"


def test_appointment_with_nothing_chosen_shows_the_errors(client, practitioner, family, child):
    client.force_login(practitioner)
    response = client.post(
        _appointment_url(family), {"member": "", "agency": "", "kind": "", **date_data("date", ("", "", ""))}
    )
    assert response.status_code == 200
    html = _html(response)
    assert_field_error(html, "member", "Choose who the appointment is for")
    assert_field_error(html, "agency", "Choose the agency the appointment is with")
    assert_field_error(html, "kind", "Choose the type of appointment")
    assert_field_error(html, "date", "Enter the date", anchor="id_date_0")
    assert_field_error(html, "status", "Select how it went", anchor="id_status_0")
    assert not Appointment.objects.exists()


def test_partner_records_an_appointment_for_their_own_agency_only(client, partner, share, family, child, health_agency):
    client.force_login(partner)
    hospital = AgencyFactory(name="Northshire General Hospital", kind="hospital")
    response = client.post(_appointment_url(family), _appointment_data(child, hospital, status="was_not_brought"))
    assert response.status_code == 200
    assert_field_error(_html(response), "agency", "A partner records appointments for its own agency only.")
    assert not Appointment.objects.exists()

    response = client.post(_appointment_url(family), _appointment_data(child, health_agency, status="was_not_brought"))
    assert response.status_code == 302
    appointment = Appointment.objects.get()
    assert appointment.agency == health_agency
    assert appointment.created_by == partner
    assert "Kai Smith: Health review — was not brought." in _chronology(client, family)


def test_change_an_appointment_keeps_the_person_and_agency(client, practitioner, family, child, mother, health_agency):
    appointment = AppointmentFactory(member=child, agency=health_agency, status="booked")
    client.force_login(practitioner)
    html = _without_csrf_token(_html(client.get(_appointment_url(family, appointment))))
    assert "Change an appointment" in html
    assert "Did not attend" not in html  # the choices fit the child
    assert re.search(r'<select name="member"[^>]*disabled', html)
    other = AgencyFactory(name="Other agency")
    data = _appointment_data(mother, other, status="was_not_brought", notes="Mum forgot")
    response = client.post(_appointment_url(family, appointment), data)
    assert response.status_code == 302
    appointment.refresh_from_db()
    assert appointment.status == "was_not_brought"
    assert appointment.notes == "Mum forgot"
    assert (appointment.member, appointment.agency) == (child, health_agency)  # disabled fields are not changed


def test_partner_cannot_change_another_agencys_appointment(client, partner, share, family, child):
    hospital = AgencyFactory(name="Northshire General Hospital")
    appointment = AppointmentFactory(member=child, agency=hospital, status="booked")
    client.force_login(partner)
    data = _appointment_data(child, hospital, status="attended")
    assert client.post(_appointment_url(family, appointment), data).status_code == 403
    appointment.refresh_from_db()
    assert appointment.status == "booked"


def test_appointment_post_without_csrf_token_is_refused(practitioner, family, child, health_agency):
    client = Client(enforce_csrf_checks=True)
    client.force_login(practitioner)
    assert 'name="csrfmiddlewaretoken"' in _html(client.get(_appointment_url(family)))
    assert client.post(_appointment_url(family), _appointment_data(child, health_agency)).status_code == 403
    assert not Appointment.objects.exists()


def test_editing_a_summer_visit_shows_its_london_time(client, practitioner, family):
    import datetime as dt
    from zoneinfo import ZoneInfo

    # 09:30 in London on 15 July is 08:30 UTC: the form shows the time the practitioner recorded.
    when = dt.datetime(2026, 7, 15, 9, 30, tzinfo=ZoneInfo("Europe/London"))
    visit = VisitFactory(family=family, scheduled_for=when)
    client.force_login(practitioner)
    html = client.get(reverse("visit-edit", args=[family.pk, visit.pk])).content.decode()
    assert 'value="09:30"' in html
