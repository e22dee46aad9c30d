"""The OpenAPI schema and its docs: public (they describe the contract, not data) and complete."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.django_db

RESOURCES = [
    "/api/v1/me/",
    "/api/v1/agencies/",
    "/api/v1/families/",
    "/api/v1/families/{family_pk}/members/",
    "/api/v1/families/{family_pk}/shares/",
    "/api/v1/families/{family_pk}/lead-professional/",
    "/api/v1/families/{family_pk}/chronology/",
    "/api/v1/members/",
    "/api/v1/referrals/",
    "/api/v1/visits/",
    "/api/v1/appointments/",
    "/api/v1/flags/",
    "/api/v1/escalations/",
    "/api/v1/escalations/{id}/action/",
]


def test_schema_lists_every_resource_without_signing_in(client):
    response = client.get("/api/schema/", HTTP_ACCEPT="application/json")
    assert response.status_code == 200
    paths = response.json()["paths"]
    missing = [r for r in RESOURCES if r not in paths]
    assert not missing


def test_docs_page_is_served_from_the_project(client):
    response = client.get("/api/docs/")
    assert response.status_code == 200
    html = response.content.decode()
    assert "/static/drf_spectacular_sidecar/" in html
    assert "cdn." not in html and "unpkg" not in html


def test_data_still_needs_a_token(client):
    assert client.get("/api/v1/families/").status_code in (401, 403)
