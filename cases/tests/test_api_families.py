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
