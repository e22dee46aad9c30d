"""Change history keeps previous values (DESIGN 6): django-simple-history on the case record,
with the person who made each change, whether through the API (token) or a page form."""

from __future__ import annotations

import pytest
from django.apps import apps
from rest_framework.test import APIClient

from accounts.tests.factories import api_token_for
from cases.models import Member

pytestmark = pytest.mark.django_db

HISTORY_MODELS = [
    "cases.Family",
    "cases.Member",
    "referrals.Referral",
    "visits.Visit",
    "visits.Appointment",
    "cases.FamilyShare",
    "cases.LeadProfessionalAssignment",
    "cases.Relationship",
    "cases.InformationGap",
    "cases.CaseNote",
]
VERSIONED_MODELS = ["cases.Family", "cases.Member", "referrals.Referral", "visits.Visit", "visits.Appointment"]


@pytest.mark.parametrize("label", HISTORY_MODELS)
def test_every_part_of_the_record_keeps_its_history(label):
    model = apps.get_model(label)
    assert hasattr(model, "history"), label
    assert model.history.model.__name__ == f"Historical{model.__name__}"


@pytest.mark.parametrize("label", VERSIONED_MODELS)
def test_versioned_records_start_at_version_one(label):
    field = apps.get_model(label)._meta.get_field("version")
    assert field.default == 1


def token_client(user) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {api_token_for(user)}")
    return client


def _assert_three_versions(member: Member, actor, field: str, values: tuple[str, str, str]) -> None:
    history = list(member.history.order_by("-history_date", "-history_id"))
    assert len(history) == 3
    newest, middle, original = history
    assert (getattr(original, field), getattr(middle, field), getattr(newest, field)) == values
    assert original.history_type == "+"
    assert (middle.history_type, newest.history_type) == ("~", "~")
    assert newest.history_user_id == actor.pk
    assert middle.history_user_id == actor.pk
    assert (middle.version, newest.version) == (2, 3)


def test_two_api_edits_keep_both_previous_values_and_the_token_holder(child, practitioner):
    client = token_client(practitioner)
    url = f"/api/v1/members/{child.pk}/"
    assert client.patch(url, {"given_name": "Kye"}, format="json").status_code == 200
    assert client.patch(url, {"given_name": "Kaiden"}, format="json").status_code == 200
    _assert_three_versions(child, practitioner, "given_name", ("Kai", "Kye", "Kaiden"))


def test_two_api_edits_by_a_partner_record_the_partner(family, share, partner, practitioner):
    """A partner edits its own agency's appointment: the history names the partner."""
    from cases.tests.factories import MemberFactory
    from visits.tests.factories import AppointmentFactory

    child = MemberFactory(family=family)
    appointment = AppointmentFactory(member=child, agency=partner.agency, notes="")
    client = token_client(partner)
    url = f"/api/v1/appointments/{appointment.pk}/"
    assert client.patch(url, {"notes": "Weighed"}, format="json").status_code == 200
    assert client.patch(url, {"notes": "Weighed and measured"}, format="json").status_code == 200
    history = list(appointment.history.order_by("-history_date", "-history_id"))
    assert [h.notes for h in history] == ["Weighed and measured", "Weighed", ""]
    assert [h.history_user_id for h in history[:2]] == [partner.pk, partner.pk]


def _member_form(member: Member, **overrides) -> dict:
    data = {
        "version": str(member.version),
        "given_name": member.given_name,
        "family_name": member.family_name,
        "aliases": "",
        "role": member.role,
        "date_of_birth_day": str(member.date_of_birth.day) if member.date_of_birth else "",
        "date_of_birth_month": str(member.date_of_birth.month) if member.date_of_birth else "",
        "date_of_birth_year": str(member.date_of_birth.year) if member.date_of_birth else "",
        "lives_in_household": "yes" if member.lives_in_household else "no",
        "contact_phone": "",
        "contact_address": "",
        "additional_needs": "",
        "school": "",
        "gp_practice": "",
    }
    data.update(overrides)
    return data


def test_two_page_edits_keep_both_previous_values_and_the_signed_in_person(client, family, child, teammate):
    client.force_login(teammate)
    url = f"/families/{family.pk}/members/{child.pk}/"
    response = client.post(url, _member_form(child, school="Oak Primary"))
    assert response.status_code == 302, response.content.decode()[:3000]
    child.refresh_from_db()
    response = client.post(url, _member_form(child, school="Elm Academy"))
    assert response.status_code == 302
    child.refresh_from_db()
    assert child.school == "Elm Academy"
    _assert_three_versions(child, teammate, "school", ("", "Oak Primary", "Elm Academy"))
