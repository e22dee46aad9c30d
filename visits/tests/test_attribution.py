"""Whose record is it (issue 14, item 6). The owning team could log a visit as another agency's, which
that agency could then edit. A visit belongs to the agency of the person who writes it; only that
agency changes it afterwards. An appointment names the agency that holds it (which may not be the
writer's) and records who wrote it."""

from __future__ import annotations

import pytest

from visits.models import Appointment, Visit
from visits.tests.factories import VisitFactory

pytestmark = pytest.mark.django_db

WHEN = "2026-03-02T10:00:00Z"


def _visit(family, **extra):
    return {"family": family.pk, "planned": False, "scheduled_for": WHEN, **extra}


def test_a_visit_logged_as_another_agencys_is_refused(api, practitioner, family, health_agency, share):
    response = api.as_user(practitioner).post("/api/v1/visits/", _visit(family, agency=health_agency.pk))
    assert response.status_code == 400
    assert "agency" in response.json()
    assert not Visit.objects.exists()


def test_a_visit_is_the_writers_agencys(api, practitioner, partner, family, share):
    mine = api.as_user(practitioner).post("/api/v1/visits/", _visit(family))
    assert mine.status_code == 201
    assert mine.json()["agency"] == practitioner.agency_id
    same = api.as_user(practitioner).post("/api/v1/visits/", _visit(family, agency=practitioner.agency_id))
    assert same.status_code == 201
    theirs = api.as_user(partner).post("/api/v1/visits/", _visit(family))
    assert theirs.status_code == 201
    assert theirs.json()["agency"] == partner.agency_id


def test_the_owning_team_cannot_change_a_partners_visit(api, practitioner, partner, family, share, health_agency):
    visit = VisitFactory(family=family, agency=health_agency, practitioner=partner, status="scheduled")
    response = api.as_user(practitioner).patch(f"/api/v1/visits/{visit.pk}/", {"outcome": "Rewritten"})
    assert response.status_code == 403
    assert "agency" in response.json()["detail"]
    visit.refresh_from_db()
    assert visit.outcome != "Rewritten"
    assert api.as_user(partner).patch(f"/api/v1/visits/{visit.pk}/", {"outcome": "Seen"}).status_code == 200


def test_a_partner_cannot_change_the_councils_visit(api, practitioner, partner, family, share):
    visit = VisitFactory(family=family, agency=family.team.agency, practitioner=practitioner)
    assert api.as_user(partner).patch(f"/api/v1/visits/{visit.pk}/", {"outcome": "Rewritten"}).status_code == 403
    assert api.as_user(practitioner).patch(f"/api/v1/visits/{visit.pk}/", {"outcome": "Seen"}).status_code == 200


def test_the_browser_cannot_open_another_agencys_visit_to_change_it(
    client, practitioner, partner, family, share, health_agency
):
    visit = VisitFactory(family=family, agency=health_agency, practitioner=partner)
    client.force_login(practitioner)
    assert client.get(f"/families/{family.pk}/visits/{visit.pk}/").status_code == 403


def test_the_visit_form_offers_no_agency(client, practitioner, family):
    client.force_login(practitioner)
    page = client.get(f"/families/{family.pk}/visits/add/")
    assert page.status_code == 200
    assert 'name="agency"' not in page.content.decode()


def test_an_appointment_names_its_agency_and_records_who_wrote_it(api, practitioner, child, health_agency):
    response = api.as_user(practitioner).post(
        "/api/v1/appointments/",
        {"member": child.pk, "agency": health_agency.pk, "kind": "health_review", "scheduled_for": WHEN},
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["agency"] == health_agency.pk
    assert body["recorded_by"] == practitioner.pk
    assert Appointment.objects.get().created_by == practitioner
    # Read-only: a client cannot claim someone else wrote it.
    other = api.as_user(practitioner).post(
        "/api/v1/appointments/",
        {"member": child.pk, "kind": "gp", "scheduled_for": WHEN, "recorded_by": 999},
    )
    assert other.status_code == 201
    assert other.json()["recorded_by"] == practitioner.pk
