"""The family resource: create, read, update, visibility and bad input."""

from __future__ import annotations

import pytest

from audit.models import AuditEvent
from cases.models import Family

pytestmark = pytest.mark.django_db


def test_practitioner_creates_family_for_own_team(api, practitioner):
    response = api.as_user(practitioner).post(
        "/api/v1/families/", {"name": "Jones family", "level": "child_in_need"}, format="json"
    )
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["team"] == practitioner.team_id
    assert body["status"] == "open"
    assert body["members"] == []
    assert body["significant_adults_confirmed"] is False
    assert AuditEvent.objects.filter(model="cases.family", object_id=str(body["id"]), action="create").exists()


def test_bad_level_is_400_with_field_error_and_nothing_saved(api, practitioner):
    response = api.as_user(practitioner).post("/api/v1/families/", {"name": "X", "level": "urgent"}, format="json")
    assert response.status_code == 400
    assert "level" in response.json()
    assert not Family.objects.exists()


def test_family_visibility_by_persona(api, family, practitioner, other_team_user, partner, unshared_partner, share):
    url = f"/api/v1/families/{family.pk}/"
    assert api.as_user(practitioner).get(url).status_code == 200
    assert api.as_user(other_team_user).get(url).status_code == 404
    assert api.as_user(partner).get(url).status_code == 200
    assert api.as_user(unshared_partner).get(url).status_code == 404


def test_chronology_and_lead_professional(api, family, practitioner, teammate, child):
    client = api.as_user(practitioner)
    response = client.put(f"/api/v1/families/{family.pk}/lead-professional/", {"user": teammate.pk}, format="json")
    assert response.status_code == 200, response.json()
    assert response.json()["lead_professional"] == teammate.pk
    response = client.get(f"/api/v1/families/{family.pk}/chronology/")
    assert response.status_code == 200
    kinds = [e["kind"] for e in response.json()["results"]]
    assert "lead_professional" in kinds


def test_a_family_lists_its_members_as_its_own_page_shows_them(api, practitioner, team):
    """The list reads the page's members in one query into a list; the family's own URL reads
    `family.members`. Both give the same brief entries, in the order they were recorded."""
    import datetime as dt

    from cases.tests.factories import FamilyFactory, MemberFactory

    family = FamilyFactory(team=team)
    MemberFactory(family=family, role="mother", given_name="Amy", date_of_birth=dt.date(1990, 5, 1))
    MemberFactory(family=family, role="child", given_name="Kai", lives_in_household=True)
    MemberFactory(family=family, role="father", given_name="Lee", lives_in_household=False, date_of_birth=None)
    FamilyFactory(team=team)  # a family with no one recorded yet
    client = api.as_user(practitioner)

    listed = {f["id"]: f for f in client.get("/api/v1/families/").json()["results"]}
    alone = client.get(f"/api/v1/families/{family.pk}/").json()

    assert listed[family.pk]["members"] == alone["members"]
    assert [m["given_name"] for m in alone["members"]] == ["Amy", "Kai", "Lee"]
    assert alone["members"][0] == {
        "id": alone["members"][0]["id"],
        "given_name": "Amy",
        "family_name": alone["members"][0]["family_name"],
        "role": "mother",
        "date_of_birth": "1990-05-01",
        "lives_in_household": True,
    }
    assert [f["members"] for f in listed.values() if f["id"] != family.pk] == [[]]
