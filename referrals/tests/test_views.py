"""Recording a referral in the browser: personas, the confidential referrer, bad input, CSRF."""

from __future__ import annotations

import datetime as dt

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from cases.tests.test_views_forms import (
    PROJECT_FORM_RENDERER,
    assert_field_error,
    date_data,
)
from referrals.models import Referral

pytestmark = pytest.mark.django_db

REFERRER = {
    "referrer_name": "Pat Neighbour-Confidential",
    "referrer_contact": "07700 900123",
    "supporting_professional": "Sam Supporter, school nurse",
}


def _url(family) -> str:
    return reverse("referral-create", args=[family.pk])


def _html(response) -> str:
    return response.content.decode()


def _data(**overrides) -> dict:
    data = {
        **date_data("date", dt.date(2026, 3, 2)),
        "time": "16:45",
        "source": "public",
        **REFERRER,
        "concerns": ["neglect", "home_conditions"],
        "summary": "Neighbour worried the children are left alone in a cold house.",
        "decision": "",
    }
    data.update(overrides)
    return data


def test_referral_form_renders_with_the_projects_form_renderer(client, settings, practitioner, family):
    settings.FORM_RENDERER = PROJECT_FORM_RENDERER
    client.force_login(practitioner)
    assert client.get(_url(family)).status_code == 200


# --- personas --------------------------------------------------------------------------------


@pytest.mark.parametrize("persona", ["practitioner", "teammate", "manager", "admin_user"])
def test_owning_team_and_admin_open_the_referral_form(client, request, family, persona):
    client.force_login(request.getfixturevalue(persona))
    response = client.get(_url(family))
    assert response.status_code == 200
    html = _html(response)
    assert '<h1 class="govuk-heading-l">Record a referral</h1>' in html
    assert 'name="csrfmiddlewaretoken"' in html


@pytest.mark.parametrize("persona", ["teammate", "manager", "admin_user"])
def test_owning_team_and_admin_record_a_referral(client, request, family, persona):
    client.force_login(request.getfixturevalue(persona))
    assert client.post(_url(family), _data()).status_code == 302
    assert Referral.objects.filter(family=family).count() == 1


def test_partner_with_a_share_is_refused_403(client, partner, share, family):
    client.force_login(partner)
    assert client.get(_url(family)).status_code == 403
    assert client.post(_url(family), _data()).status_code == 403
    assert not Referral.objects.exists()


@pytest.mark.parametrize("persona", ["other_team_user", "unshared_partner"])
def test_outsiders_get_404(client, request, family, persona):
    client.force_login(request.getfixturevalue(persona))
    response = client.get(_url(family))
    assert response.status_code == 404
    assert b"Smith" not in response.content
    assert client.post(_url(family), _data()).status_code == 404
    assert not Referral.objects.exists()


def test_anonymous_is_sent_to_sign_in(client, family):
    for response in (client.get(_url(family)), client.post(_url(family), _data())):
        assert response.status_code == 302
        assert response.url == f"{reverse('login')}?next={_url(family)}"
    assert not Referral.objects.exists()


# --- recording referrals ---------------------------------------------------------------------


def test_the_form_marks_the_referrers_identity_as_confidential(client, practitioner, family):
    client.force_login(practitioner)
    html = _html(client.get(_url(family)))
    section = html[html.index('class="app-confidential"') : html.index('name="concerns"')]
    assert '<strong class="govuk-tag govuk-tag--red">Confidential</strong> Who referred' in section
    assert "Never shown to the family, partner agencies or in exports." in section
    for field in REFERRER:
        assert f'name="{field}"' in section
    assert "An anonymous referral is weighed the same as any other." in html


def test_referral_with_the_confidential_section_is_saved(client, practitioner, family):
    client.force_login(practitioner)
    response = client.post(_url(family), _data())
    assert response.status_code == 302
    assert response.url == reverse("family-detail", args=[family.pk]) + "#chronology"
    referral = Referral.objects.get()
    assert referral.family == family
    assert referral.source == "public"
    assert referral.referrer_name == "Pat Neighbour-Confidential"
    assert referral.referrer_contact == "07700 900123"
    assert referral.supporting_professional == "Sam Supporter, school nurse"
    assert referral.concerns == ["neglect", "home_conditions"]
    assert referral.received_at == timezone.make_aware(dt.datetime(2026, 3, 2, 16, 45))
    assert referral.decision == "" and referral.decision_at is None
    assert referral.recorded_by == practitioner

    html = _html(client.get(response.url))
    assert "Referral recorded." in html
    assert "Referral from a member of the public: neglect, home conditions." in html
    assert "2 Mar 2026, 16:45" in html
    # The chronology never carries the referrer, even for the owning team.
    for text in REFERRER.values():
        assert text not in html


def test_anonymous_referral_without_details_is_saved(client, practitioner, family):
    client.force_login(practitioner)
    data = _data(source="anonymous", referrer_name="", referrer_contact="", supporting_professional="", time="")
    response = client.post(_url(family), data)
    assert response.status_code == 302
    referral = Referral.objects.get()
    assert referral.source == "anonymous"
    assert (referral.referrer_name, referral.referrer_contact, referral.supporting_professional) == ("", "", "")
    assert referral.received_at == timezone.make_aware(dt.datetime(2026, 3, 2, 9, 0))
    html = _html(client.get(response.url))
    assert "Referral from anonymous (not to be named to the family): neglect, home conditions." in html


def test_referral_with_a_decision_records_when(client, practitioner, family):
    client.force_login(practitioner)
    response = client.post(_url(family), _data(decision="early_help", concerns=["domestic_abuse"]))
    assert response.status_code == 302
    referral = Referral.objects.get()
    assert referral.decision == "early_help"
    assert referral.decision_at is not None
    assert "domestic abuse. Decision: early help." in _html(client.get(response.url))


def test_referral_without_a_concern_shows_the_error_and_saves_nothing(client, practitioner, family):
    client.force_login(practitioner)
    data = _data()
    del data["concerns"]
    response = client.post(_url(family), data)
    assert response.status_code == 200
    html = _html(response)
    assert_field_error(html, "concerns", "Select at least one concern", anchor="id_concerns_0")
    assert 'value="Pat Neighbour-Confidential"' in html  # what was typed is kept for the owning team
    assert not Referral.objects.exists()


def test_referral_without_source_summary_or_date_shows_each_error(client, practitioner, family):
    client.force_login(practitioner)
    data = _data(source="", summary="  ", **date_data("date", (30, 2, 2026)))
    response = client.post(_url(family), data)
    assert response.status_code == 200
    html = _html(response)
    assert_field_error(html, "source", "Select who made the referral", anchor="id_source_0")
    assert_field_error(html, "summary", "Enter a summary")
    assert_field_error(html, "date", "The date must be a real date, for example 27 3 2024.", anchor="id_date_0")
    assert not Referral.objects.exists()


def test_unknown_concern_or_decision_is_an_error(client, practitioner, family):
    client.force_login(practitioner)
    response = client.post(_url(family), _data(concerns=["neglect", "witchcraft"], decision="lock_up"))
    assert response.status_code == 200
    html = _html(response)
    assert_field_error(
        html,
        "concerns",
        "Select a valid choice. witchcraft is not one of the available choices.",
        anchor="id_concerns_0",
    )
    assert_field_error(html, "decision", "Select a valid choice. lock_up is not one of the available choices.")
    assert not Referral.objects.exists()


def test_several_concerns_can_be_ticked(client, practitioner, family):
    client.force_login(practitioner)
    html = _html(client.get(_url(family)))
    assert html.count('name="concerns" type="checkbox"') == 10
    assert 'name="concerns" type="radio"' not in html


def test_referral_post_without_csrf_token_is_refused(practitioner, family):
    client = Client(enforce_csrf_checks=True)
    client.force_login(practitioner)
    assert 'name="csrfmiddlewaretoken"' in _html(client.get(_url(family)))
    assert client.post(_url(family), _data()).status_code == 403
    assert not Referral.objects.exists()
    token = client.cookies["csrftoken"].value
    assert client.post(_url(family), {**_data(), "csrfmiddlewaretoken": token}).status_code == 302
