"""The confidential referrer (DESIGN 2, 5, 6): `referrer_name`, `referrer_contact` and
`supporting_professional` are accepted from and shown to the owning team only. For anyone else
the keys are absent and the values appear nowhere in any response; they never reach the audit log.
"""

from __future__ import annotations

import json

import pytest
from rest_framework.test import APIClient

from accounts.tests.factories import api_token_for
from audit.models import AuditEvent
from referrals.models import Referral
from visits.tests.factories import AppointmentFactory, VisitFactory

pytestmark = pytest.mark.django_db

REFERRER_NAME = "Zebedee Quixley-Referrer"
REFERRER_CONTACT = "07700 900777 / zq.referrer@example.org"
SUPPORTING = "Ottoline Vantablack, school nurse at St Ethelreda's"
SECRETS = (REFERRER_NAME, REFERRER_CONTACT, SUPPORTING)
CONFIDENTIAL_KEYS = ("referrer_name", "referrer_contact", "supporting_professional")


def token_client(user) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {api_token_for(user)}")
    return client


def assert_no_secret(response) -> None:
    raw = response.content
    for secret in SECRETS:
        assert secret.encode() not in raw, f"{secret!r} leaked in {response.request['PATH_INFO']}"
    # Also a fragment, in case a value were truncated or re-formatted.
    for fragment in (b"Quixley", b"900777", b"Vantablack"):
        assert fragment not in raw, f"{fragment!r} leaked in {response.request['PATH_INFO']}"


@pytest.fixture
def referral_id(practitioner, family, child, mother, share, health_agency):
    """An anonymous referral recorded by the owning team, with the referrer's details, plus a
    visit and an appointment so every endpoint has something to show."""
    response = token_client(practitioner).post(
        "/api/v1/referrals/",
        {
            "family": family.pk,
            "source": "anonymous",
            "referrer_name": REFERRER_NAME,
            "referrer_contact": REFERRER_CONTACT,
            "supporting_professional": SUPPORTING,
            "concerns": ["neglect", "home_conditions"],
            "summary": "Children left alone in the evenings; house cold.",
        },
        format="json",
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["referrer_name"] == REFERRER_NAME  # the owning team sees what it recorded
    visit = VisitFactory(family=family, practitioner=practitioner)
    visit.children_seen.set([child])
    AppointmentFactory(member=child, agency=health_agency)
    return body["id"]


def every_url(family, referral_id, child):
    fid = family.pk
    return [
        "/api/v1/referrals/",
        f"/api/v1/referrals/{referral_id}/",
        f"/api/v1/referrals/?family={fid}",
        f"/api/v1/families/{fid}/chronology/",
        f"/api/v1/families/{fid}/chronology/?kind=referral",
        "/api/v1/families/",
        f"/api/v1/families/{fid}/",
        f"/api/v1/families/{fid}/members/",
        "/api/v1/members/",
        f"/api/v1/members/{child.pk}/",
        f"/api/v1/families/{fid}/shares/",
        f"/api/v1/families/{fid}/lead-professional/",
        f"/api/v1/families/{fid}/relationships/",
        f"/api/v1/families/{fid}/gaps/",
        "/api/v1/visits/",
        "/api/v1/appointments/",
        "/api/v1/me/",
        "/api/v1/agencies/",
    ]


# --- the partner ------------------------------------------------------------------------------------


def test_partner_never_receives_the_confidential_referrer_on_any_endpoint(referral_id, partner, family, child):
    client = token_client(partner)
    for url in every_url(family, referral_id, child):
        response = client.get(url)
        assert response.status_code == 200, (url, response.content)
        assert_no_secret(response)


def test_partner_referral_objects_have_no_confidential_keys(referral_id, partner):
    client = token_client(partner)
    detail = client.get(f"/api/v1/referrals/{referral_id}/").json()
    listed = client.get("/api/v1/referrals/").json()["results"]
    assert [row["id"] for row in listed] == [referral_id]
    for obj in (detail, listed[0]):
        for key in CONFIDENTIAL_KEYS:
            assert key not in obj
        # The rest of the referral is shared.
        assert obj["source"] == "anonymous"
        assert obj["concerns"] == ["neglect", "home_conditions"]
        assert obj["summary"].startswith("Children left alone")


def test_partner_cannot_record_the_referrer_on_a_referral(referral_id, partner):
    response = token_client(partner).patch(
        f"/api/v1/referrals/{referral_id}/", {"referrer_name": "Someone else"}, format="json"
    )
    assert response.status_code in (400, 403)
    assert Referral.objects.get(pk=referral_id).referrer_name == REFERRER_NAME
    assert_no_secret(response)


def test_partner_error_responses_do_not_echo_the_referrer(referral_id, partner):
    client = token_client(partner)
    for response in (
        client.patch(f"/api/v1/referrals/{referral_id}/", {"concerns": ["nonsense"]}, format="json"),
        client.patch(f"/api/v1/referrals/{referral_id}/", {"summary": "changed"}, format="json"),
        client.put(f"/api/v1/referrals/{referral_id}/", {}, format="json"),
    ):
        assert response.status_code in (400, 403)
        assert_no_secret(response)


def test_partner_with_an_ended_share_gets_nothing(referral_id, practitioner, partner, family, share):
    client = token_client(partner)
    token_client(practitioner).delete(f"/api/v1/families/{family.pk}/shares/{share.pk}/")
    assert client.get(f"/api/v1/referrals/{referral_id}/").status_code == 404
    assert client.get("/api/v1/referrals/").json()["results"] == []


# --- the owning team, the admin, another team -----------------------------------------------------


@pytest.mark.parametrize("persona", ["practitioner", "teammate", "manager"])
def test_owning_team_sees_the_confidential_referrer(request, referral_id, persona):
    client = token_client(request.getfixturevalue(persona))
    detail = client.get(f"/api/v1/referrals/{referral_id}/").json()
    listed = client.get("/api/v1/referrals/").json()["results"][0]
    for obj in (detail, listed):
        assert obj["referrer_name"] == REFERRER_NAME
        assert obj["referrer_contact"] == REFERRER_CONTACT
        assert obj["supporting_professional"] == SUPPORTING


def test_owning_team_does_not_see_the_referrer_in_the_chronology(referral_id, practitioner, family):
    # The chronology is safe to show anyone who may see the family.
    response = token_client(practitioner).get(f"/api/v1/families/{family.pk}/chronology/")
    assert response.status_code == 200
    assert_no_secret(response)


def test_admin_does_not_see_the_confidential_referrer(referral_id, admin_user, family, child):
    client = token_client(admin_user)
    for url in every_url(family, referral_id, child):
        response = client.get(url)
        assert response.status_code == 200, url
        assert_no_secret(response)
    detail = client.get(f"/api/v1/referrals/{referral_id}/").json()
    for key in CONFIDENTIAL_KEYS:
        assert key not in detail


def test_admin_cannot_record_a_confidential_referrer(admin_user, family):
    before = Referral.objects.count()
    response = token_client(admin_user).post(
        "/api/v1/referrals/",
        {
            "family": family.pk,
            "source": "public",
            "referrer_name": REFERRER_NAME,
            "concerns": ["neglect"],
            "summary": "Worried about the children.",
        },
        format="json",
    )
    assert response.status_code == 400
    assert "referrer_name" in response.json()
    assert Referral.objects.count() == before
    assert_no_secret(response)


def test_admin_records_a_referral_without_the_referrer(admin_user, family):
    response = token_client(admin_user).post(
        "/api/v1/referrals/",
        {"family": family.pk, "source": "public", "concerns": ["neglect"], "summary": "Worried."},
        format="json",
    )
    assert response.status_code == 201, response.content
    for key in CONFIDENTIAL_KEYS:
        assert key not in response.json()


def test_another_team_gets_404_for_the_referral(referral_id, other_team_user):
    client = token_client(other_team_user)
    response = client.get(f"/api/v1/referrals/{referral_id}/")
    assert response.status_code == 404
    assert_no_secret(response)
    assert referral_id not in [r["id"] for r in client.get("/api/v1/referrals/").json()["results"]]


def test_owning_team_update_keeps_the_referrer_out_of_other_views(referral_id, practitioner, partner, admin_user):
    response = token_client(practitioner).patch(
        f"/api/v1/referrals/{referral_id}/", {"decision": "assessment"}, format="json"
    )
    assert response.status_code == 200, response.content
    assert response.json()["referrer_name"] == REFERRER_NAME
    for user in (partner, admin_user):
        assert_no_secret(token_client(user).get(f"/api/v1/referrals/{referral_id}/"))


# --- the audit log -------------------------------------------------------------------------------


def audit_text() -> str:
    rows = AuditEvent.objects.values("model", "object_id", "route", "changes", "action")
    return json.dumps(list(rows), default=str)


def test_audit_log_never_contains_the_referrer(referral_id, practitioner, partner, admin_user, family, child):
    # Change every confidential field and read everything as every persona, then look at the log.
    owner = token_client(practitioner)
    response = owner.patch(
        f"/api/v1/referrals/{referral_id}/",
        {
            "referrer_name": REFERRER_NAME + " Jr",
            "referrer_contact": REFERRER_CONTACT + " ext 2",
            "supporting_professional": SUPPORTING + " (retired)",
            "decision": "early_help",
        },
        format="json",
    )
    assert response.status_code == 200, response.content
    for user in (practitioner, partner, admin_user):
        client = token_client(user)
        for url in every_url(family, referral_id, child):
            client.get(url)

    assert AuditEvent.objects.filter(model="referrals.referral", object_id=str(referral_id)).count() >= 2
    text = audit_text()
    for fragment in ("Quixley", "900777", "Vantablack", "zq.referrer"):
        assert fragment not in text


def test_audit_log_records_that_the_referrer_changed_without_the_value(referral_id, practitioner):
    token_client(practitioner).patch(
        f"/api/v1/referrals/{referral_id}/", {"referrer_name": "Another Name Entirely"}, format="json"
    )
    change = AuditEvent.objects.filter(model="referrals.referral", object_id=str(referral_id), action="change").latest(
        "id"
    )
    assert "referrer_name" in change.changes
    assert "Another Name Entirely" not in json.dumps(change.changes)
    assert "Quixley" not in json.dumps(change.changes)
