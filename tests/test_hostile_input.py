"""Hostile input to the API (issue 14, item 14): a crafted cursor, a JSON body nested 100,000 deep
and a date with an absurd day each gave a 500. Each is a 400 with a message a developer can act on."""

from __future__ import annotations

import base64

import pytest

pytestmark = pytest.mark.django_db


def _cursor(raw: str) -> str:
    return base64.b64encode(raw.encode()).decode()


@pytest.mark.parametrize(
    "cursor",
    [
        _cursor("p=abc"),
        _cursor("p=99999999999999999999999"),
        _cursor("p=-99999999999999999999999"),
        _cursor("p=1%00"),
        _cursor("o=99999999999999999999&p=1"),
        _cursor("r=1&p=x"),
        "not base64 at all!",
        "%00",
        "A" * 10_000,
    ],
)
def test_a_crafted_cursor_is_a_400_with_a_message(api, practitioner, family, cursor):
    response = api.as_user(practitioner).get("/api/v1/families/", {"cursor": cursor})
    assert response.status_code == 400, response.content
    assert "cursor" in response.json()


def test_a_real_cursor_still_pages(api, practitioner, family, team):
    from cases.tests.factories import FamilyFactory

    FamilyFactory(team=team)
    first = api.as_user(practitioner).get("/api/v1/families/", {"page_size": 1}).json()
    second = api.get(first["next"])
    assert second.status_code == 200
    assert len(second.json()["results"]) == 1


def test_a_json_body_nested_100000_deep_is_a_400(api, practitioner, family):
    body = "[" * 100_000 + "]" * 100_000
    response = api.as_user(practitioner).generic("POST", "/api/v1/visits/", body, content_type="application/json")
    assert response.status_code == 400, response.content[:200]
    assert "deep" in response.json()["detail"]


def test_a_json_object_nested_deep_in_a_field_is_a_400(api, practitioner, family):
    body = '{"purpose": ' + '{"a": ' * 5_000 + "1" + "}" * 5_000 + "}"
    response = api.as_user(practitioner).generic(
        "PATCH", f"/api/v1/families/{family.pk}/", body, content_type="application/json"
    )
    assert response.status_code == 400, response.content[:200]


def test_malformed_json_is_a_400_with_a_message(api, practitioner):
    response = api.as_user(practitioner).generic("POST", "/api/v1/visits/", "{", content_type="application/json")
    assert response.status_code == 400
    assert response.json()["detail"]


def test_a_form_encoded_body_is_refused_the_api_speaks_json(api, practitioner, family):
    response = api.as_user(practitioner).post("/api/v1/visits/", {"family": family.pk}, format="multipart")
    assert response.status_code == 415


@pytest.mark.parametrize(
    "value",
    [
        "2026-01-99999999999999999999",
        "99999999999999999999-01-01",
        "2026-99999999999999999999-01",
        "2026-01-01T99999999999999999999:00:00Z",
        "2026-01-01T10:00:00+99999999999999999999:00",
        "9" * 5000,
        "2026-01-01\x00",
    ],
)
@pytest.mark.parametrize("param", ["updated_since", "scheduled_after"])
def test_an_absurd_date_in_a_query_is_a_400(api, practitioner, family, value, param):
    response = api.as_user(practitioner).get("/api/v1/visits/", {param: value})
    assert response.status_code == 400, response.content[:300]
    assert param in response.json()


@pytest.mark.parametrize(
    "value",
    [
        "2026-01-99999999999999999999",
        "99999999999999999999-01-01",
        "2026-01-01T99999999999999999999:00:00Z",
        "2026-01-01T10:00:00+99999999999999999999:00",
        "+999999999-01-01T00:00:00Z",
        "2026-01-01\x00",
    ],
)
def test_an_absurd_date_in_a_body_is_a_400(api, practitioner, family, child, value):
    client = api.as_user(practitioner)
    visit = client.post(
        "/api/v1/visits/",
        {"family": family.pk, "planned": False, "scheduled_for": value},
        format="json",
    )
    assert visit.status_code == 400, visit.content[:300]
    assert "scheduled_for" in visit.json()
    member = client.patch(f"/api/v1/members/{child.pk}/", {"date_of_birth": value[:40]}, format="json")
    assert member.status_code == 400, member.content[:300]
    assert "date_of_birth" in member.json()


def test_a_huge_number_for_an_id_is_a_400_not_a_500(api, practitioner, family):
    client = api.as_user(practitioner)
    response = client.post(
        "/api/v1/visits/",
        {"family": 10**30, "planned": False, "scheduled_for": "2026-01-01T10:00:00Z"},
        format="json",
    )
    assert response.status_code == 400
    assert client.get("/api/v1/visits/", {"family": str(10**30)}).status_code in (200, 400)
    assert client.get(f"/api/v1/families/{10**30}/").status_code == 404


HUGE = "99999999999999999999"


@pytest.mark.parametrize(
    ("url", "param"),
    [
        ("/api/v1/families/", "team"),
        ("/api/v1/families/", "lead_professional"),
        ("/api/v1/members/", "family"),
        ("/api/v1/visits/", "family"),
        ("/api/v1/visits/", "agency"),
        ("/api/v1/appointments/", "family"),
        ("/api/v1/appointments/", "agency"),
        ("/api/v1/appointments/", "member"),
        ("/api/v1/flags/", "family"),
        ("/api/v1/flags/", "member"),
        ("/api/v1/escalations/", "family"),
        ("/api/v1/escalations/", "assigned_to"),
        ("/api/v1/referrals/", "family"),
    ],
)
def test_an_id_beyond_any_record_in_a_list_filter_is_a_400_naming_the_filter(api, practitioner, family, url, param):
    response = api.as_user(practitioner).get(url, {param: HUGE})
    assert response.status_code == 400, (url, param, response.status_code)
    assert response.json() == {param: ["Enter a number no larger than 9223372036854775807."]}


def test_an_id_beyond_any_record_in_the_chronology_filter_is_a_400_and_on_the_page_is_ignored(
    api, client, practitioner, family
):
    response = api.as_user(practitioner).get(f"/api/v1/families/{family.pk}/chronology/", {"agency": HUGE})
    assert response.status_code == 400 and "agency" in response.json()
    client.force_login(practitioner)
    assert client.get(f"/families/{family.pk}/", {"agency": HUGE}).status_code == 200
    assert client.get(f"/families/{family.pk}/", {"agency": HUGE, "tab": "chronology"}).status_code == 200


def test_an_if_match_of_thousands_of_digits_is_a_400(api, practitioner, family):
    response = api.as_user(practitioner).patch(
        f"/api/v1/families/{family.pk}/", {}, format="json", HTTP_IF_MATCH='"' + "9" * 5000 + '"'
    )
    assert response.status_code == 400
    assert "If-Match" in response.json()
