"""Repeated and simultaneous writes (issue 14, item 2). Two identical appointments posted at the same
moment both saved, inflating the counts the checks rely on. Now an API write may carry an
`Idempotency-Key` (the first answer is replayed for 24 hours), and an exact duplicate appointment
(same member, agency, kind and time) is refused with 409 whatever the headers."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from tests.test_concurrency import _race, token_client
from visits.models import Appointment, Visit

pytestmark = pytest.mark.django_db

WHEN = "2026-03-02T10:00:00Z"


def _appointment(child, **extra):
    return {"member": child.pk, "kind": "gp", "scheduled_for": WHEN, **extra}


def _visit(family, **extra):
    return {"family": family.pk, "planned": False, "scheduled_for": WHEN, **extra}


def test_a_repeat_with_the_same_key_replays_the_first_answer_and_saves_once(api, practitioner, family, child):
    client = api.as_user(practitioner)
    first = client.post("/api/v1/visits/", _visit(family), format="json", HTTP_IDEMPOTENCY_KEY="k-1")
    again = client.post("/api/v1/visits/", _visit(family), format="json", HTTP_IDEMPOTENCY_KEY="k-1")
    assert first.status_code == again.status_code == 201
    assert again.json() == first.json()
    assert again["Idempotent-Replayed"] == "true"
    assert "Idempotent-Replayed" not in first
    assert Visit.objects.filter(family=family).count() == 1


def test_a_replay_is_a_read_of_what_it_shows_and_only_while_the_caller_may_see_the_family(
    api, partner, share, family, child, health_agency
):
    from audit.models import AuditEvent
    from cases.services import share_end

    client = api.as_user(partner)
    first = client.post("/api/v1/appointments/", _appointment(child), format="json", HTTP_IDEMPOTENCY_KEY="k-r")
    assert first.status_code == 201
    reads = AuditEvent.objects.filter(actor_id=partner.pk, action="view", family_id=family.pk)
    before = reads.count()
    again = client.post("/api/v1/appointments/", _appointment(child), format="json", HTTP_IDEMPOTENCY_KEY="k-r")
    assert again.status_code == 201 and again["Idempotent-Replayed"] == "true"
    assert list(reads.order_by("-id").values_list("model", "object_id")[: reads.count() - before]) == [
        ("visits.appointment", str(first.json()["id"]))
    ]

    share_end(actor=family.lead_professional, share=share)
    gone = client.post("/api/v1/appointments/", _appointment(child), format="json", HTTP_IDEMPOTENCY_KEY="k-r")
    assert gone.status_code == 404
    assert str(child.given_name) not in gone.content.decode()


def test_the_same_key_with_a_different_body_is_refused_with_a_plain_message(api, practitioner, family):
    client = api.as_user(practitioner)
    client.post("/api/v1/visits/", _visit(family), format="json", HTTP_IDEMPOTENCY_KEY="k-2")
    other = client.post(
        "/api/v1/visits/", _visit(family, outcome="Different"), format="json", HTTP_IDEMPOTENCY_KEY="k-2"
    )
    assert other.status_code == 422
    assert "different request" in other.json()["detail"]
    assert Visit.objects.filter(family=family).count() == 1


def test_keys_belong_to_their_user(api, practitioner, teammate, family):
    api.as_user(practitioner).post("/api/v1/visits/", _visit(family), format="json", HTTP_IDEMPOTENCY_KEY="k-3")
    bob = api.as_user(teammate).post("/api/v1/visits/", _visit(family), format="json", HTTP_IDEMPOTENCY_KEY="k-3")
    assert bob.status_code == 201
    assert "Idempotent-Replayed" not in bob
    assert Visit.objects.filter(family=family).count() == 2


def test_a_key_is_forgotten_after_its_time_and_purged(api, practitioner, family, settings):
    from core.models import IdempotencyKey
    from core.tasks import purge_idempotency_keys

    client = api.as_user(practitioner)
    client.post("/api/v1/visits/", _visit(family), format="json", HTTP_IDEMPOTENCY_KEY="k-4")
    IdempotencyKey.objects.update(
        created_at=timezone.now() - dt.timedelta(hours=settings.IDEMPOTENCY_KEY_TTL_HOURS, minutes=1)
    )
    again = client.post("/api/v1/visits/", _visit(family), format="json", HTTP_IDEMPOTENCY_KEY="k-4")
    assert again.status_code == 201 and "Idempotent-Replayed" not in again
    IdempotencyKey.objects.update(created_at=timezone.now() - dt.timedelta(days=2))
    assert purge_idempotency_keys() == 1
    assert not IdempotencyKey.objects.exists()


def test_a_server_error_or_a_refusal_is_not_kept_so_a_retry_runs(api, practitioner, family):
    client = api.as_user(practitioner)
    bad = client.post("/api/v1/visits/", {"family": family.pk}, format="json", HTTP_IDEMPOTENCY_KEY="k-5")
    assert bad.status_code == 400
    # The same body is the same answer (a 400 is kept); a corrected body with the same key is a mismatch.
    assert (
        client.post("/api/v1/visits/", {"family": family.pk}, format="json", HTTP_IDEMPOTENCY_KEY="k-5")[
            "Idempotent-Replayed"
        ]
        == "true"
    )


@pytest.mark.parametrize("key", ["x" * 256, "bad\x01key", ""])
def test_a_malformed_key_is_a_400(api, practitioner, family, key):
    response = api.as_user(practitioner).post(
        "/api/v1/visits/", _visit(family), format="json", HTTP_IDEMPOTENCY_KEY=key
    )
    assert response.status_code == 400
    assert "Idempotency-Key" in response.json()


def test_the_schema_declares_the_header_on_writes(client):
    schema = client.get("/api/schema/?format=json").json()
    post = schema["paths"]["/api/v1/appointments/"]["post"]
    assert any(p["name"] == "Idempotency-Key" and p["in"] == "header" for p in post["parameters"])
    get = schema["paths"]["/api/v1/appointments/"]["get"]
    assert not any(p["name"] == "Idempotency-Key" for p in get.get("parameters", []))


# --- exact duplicate appointments ----------------------------------------------------------------


def test_an_exact_duplicate_appointment_is_a_409_naming_the_one_saved(api, practitioner, child):
    client = api.as_user(practitioner)
    first = client.post("/api/v1/appointments/", _appointment(child), format="json")
    assert first.status_code == 201, first.content
    second = client.post("/api/v1/appointments/", _appointment(child), format="json")
    assert second.status_code == 409, second.content
    assert str(first.json()["id"]) in second.json()["detail"]
    assert Appointment.objects.filter(member=child).count() == 1
    # A different time, kind or agency is a different appointment.
    assert client.post("/api/v1/appointments/", _appointment(child, kind="dental"), format="json").status_code == 201


@pytest.mark.django_db(transaction=True)
def test_two_identical_appointments_posted_at_once_save_once(practitioner, child):
    clients = [token_client(practitioner), token_client(practitioner)]

    def post(client):
        return lambda: client.post("/api/v1/appointments/", _appointment(child), format="json")

    results = _race(post(clients[0]), post(clients[1]))
    codes = sorted(r.status_code for r in results)
    assert codes == [201, 409], [getattr(r, "content", r) for r in results]
    assert Appointment.objects.filter(member=child).count() == 1


@pytest.mark.django_db(transaction=True)
def test_two_first_requests_with_one_key_run_once(practitioner, family):
    clients: list[APIClient] = [token_client(practitioner), token_client(practitioner)]

    def post(client):
        return lambda: client.post("/api/v1/visits/", _visit(family), format="json", HTTP_IDEMPOTENCY_KEY="same")

    results = _race(post(clients[0]), post(clients[1]))
    codes = sorted(r.status_code for r in results)
    # One runs; the other waits for it and replays its answer, or is told it is still in progress.
    assert codes in ([201, 201], [201, 409]), [getattr(r, "content", r) for r in results]
    assert Visit.objects.filter(family=family).count() == 1


def test_a_conflict_is_not_kept_so_a_replay_never_shows_what_was_saved_then(api, practitioner, family, child):
    client = api.as_user(practitioner)
    stale = {"HTTP_IF_MATCH": '"999"', "HTTP_IDEMPOTENCY_KEY": "k-409"}
    first = client.patch(f"/api/v1/members/{child.pk}/", {"given_name": "X"}, format="json", **stale)
    assert first.status_code == 409 and child.given_name in first.content.decode()
    again = client.patch(f"/api/v1/members/{child.pk}/", {"given_name": "X"}, format="json", **stale)
    assert again.status_code == 409 and "Idempotent-Replayed" not in again


def test_the_kept_answer_holds_no_confidential_referrer(api, practitioner, family):
    from core.models import IdempotencyKey

    client = api.as_user(practitioner)
    payload = {
        "family": family.pk,
        "source": "public",
        "concerns": ["neglect"],
        "summary": "A neighbour is worried.",
        "referrer_name": "Rosalind Quarrington",
        "referrer_contact": "07700 900777",
    }
    first = client.post("/api/v1/referrals/", payload, format="json", HTTP_IDEMPOTENCY_KEY="k-ref")
    assert first.status_code == 201 and first.json()["referrer_name"] == "Rosalind Quarrington"
    kept = bytes(IdempotencyKey.objects.get(key="k-ref").response_body)
    assert b"Quarrington" not in kept and b"900777" not in kept
    again = client.post("/api/v1/referrals/", payload, format="json", HTTP_IDEMPOTENCY_KEY="k-ref")
    assert again.status_code == 201 and again["Idempotent-Replayed"] == "true"
    assert again.json()["id"] == first.json()["id"] and "referrer_name" not in again.json()
