"""Lost and forged changes (issue 14, item 1): a lead-professional change made a moment before a
family PATCH must survive it. Two real database connections interleave: one sets the lead and
holds its transaction open; the other's PATCH reads the family, then waits on the row lock.

Every write that changes a versioned row raises its version (so a correct If-Match from before
the lead change is refused), and an update writes only the fields it changes (so a PATCH without
If-Match cannot write back a stale lead professional)."""

from __future__ import annotations

import threading
import time

import pytest
from django.db import connection, transaction
from rest_framework.test import APIClient

from audit.models import AuditEvent
from cases import services
from cases.models import Family, LeadProfessionalAssignment

pytestmark = pytest.mark.django_db(transaction=True)


def _client(user) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    client.raise_request_exception = False
    return client


def _waiting_on_a_lock() -> bool:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND datname = current_database()"
        )
        return cursor.fetchone()[0] > 0


def _lead_change_racing_a_patch(*, family, manager, new_lead, patch_user, body, headers):
    """Thread A sets the lead and keeps its transaction open until thread B's PATCH is waiting for
    the family's row lock; then A commits and B goes on. Returns B's response."""
    a_done = threading.Event()
    release = threading.Event()
    result: dict = {}

    def set_lead():
        try:
            with transaction.atomic():
                services.lead_professional_set(actor=manager, family=Family.objects.get(pk=family.pk), user=new_lead)
                a_done.set()
                release.wait(timeout=10)
        finally:
            connection.close()

    def patch():
        try:
            result["response"] = _client(patch_user).patch(
                f"/api/v1/families/{family.pk}/", body, format="json", **headers
            )
        finally:
            connection.close()

    a = threading.Thread(target=set_lead)
    a.start()
    assert a_done.wait(timeout=10)
    b = threading.Thread(target=patch)
    b.start()
    deadline = time.monotonic() + 10
    while not _waiting_on_a_lock() and time.monotonic() < deadline:
        time.sleep(0.02)
    release.set()
    a.join(timeout=20)
    b.join(timeout=20)
    assert not a.is_alive() and not b.is_alive(), "a thread is stuck"
    return result["response"]


def _assert_row_history_and_audit_agree(family_id: int, lead_id: int) -> None:
    saved = Family.objects.get(pk=family_id)
    assert saved.lead_professional_id == lead_id
    open_assignments = list(
        LeadProfessionalAssignment.objects.filter(family_id=family_id, ended_at__isnull=True).values_list(
            "user_id", flat=True
        )
    )
    assert open_assignments == [lead_id]
    lead_changes = [
        e.changes["lead_professional"]["to"]
        for e in AuditEvent.objects.filter(model="cases.family", family_id=family_id, action="change").order_by(
            "at", "id"
        )
        if "lead_professional" in e.changes
    ]
    assert lead_changes[-1] == lead_id


def test_a_patch_with_the_if_match_from_before_a_lead_change_is_refused(family, manager, practitioner, teammate):
    version = _client(practitioner).get(f"/api/v1/families/{family.pk}/")["ETag"]

    response = _lead_change_racing_a_patch(
        family=family,
        manager=manager,
        new_lead=teammate,
        patch_user=practitioner,
        body={"name": "Smith-Jones family"},
        headers={"HTTP_IF_MATCH": version},
    )

    assert response.status_code == 409, response.content
    saved = Family.objects.get(pk=family.pk)
    assert saved.name == "Smith family"
    assert saved.version == int(version.strip('"')) + 1
    _assert_row_history_and_audit_agree(family.pk, teammate.pk)


def test_a_patch_without_if_match_keeps_a_lead_change_it_did_not_send(family, manager, practitioner, teammate):
    response = _lead_change_racing_a_patch(
        family=family,
        manager=manager,
        new_lead=teammate,
        patch_user=practitioner,
        body={"name": "Smith-Jones family"},
        headers={},
    )

    assert response.status_code == 200, response.content
    assert response.json()["lead_professional"] == teammate.pk
    saved = Family.objects.get(pk=family.pk)
    assert saved.name == "Smith-Jones family"
    assert saved.version == 3  # the lead change, then the rename
    _assert_row_history_and_audit_agree(family.pk, teammate.pk)
