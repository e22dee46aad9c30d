"""Incremental sync (DESIGN 5): every list is paginated (`count`, `next`, `previous`, `results`,
`?page_size=`) and takes `?updated_since=` (ISO 8601): records changed before it are left out,
records changed at or after it are in, and a change made through the API moves a record forward."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from accounts.tests.factories import api_token_for
from cases.models import Agency, Family, FamilyShare, InformationGap, Member, Relationship
from cases.tests.factories import AgencyFactory, FamilyFactory, MemberFactory, ShareFactory
from referrals.models import Referral
from referrals.tests.factories import ReferralFactory
from visits.models import Appointment, Visit
from visits.tests.factories import AppointmentFactory, VisitFactory

pytestmark = pytest.mark.django_db

OLD = dt.datetime(2020, 1, 1, 12, 0, tzinfo=dt.UTC)
CUTOFF = dt.datetime(2024, 1, 1, 0, 0, tzinfo=dt.UTC)


def token_client(user) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {api_token_for(user)}")
    return client


@dataclass
class Listing:
    """How to make one record for a list, and where the list lives."""

    url: Callable  # (family) -> url
    make: Callable  # (family, n) -> instance
    model: type


def _member(family, n):
    return MemberFactory(family=family, given_name=f"Child{n}", role="child")


def _referral(family, n):
    return ReferralFactory(family=family, summary=f"Referral {n}")


def _visit(family, n):
    return VisitFactory(family=family, purpose=f"Visit {n}")


def _appointment(family, n):
    member = family.members.filter(role="child").first() or MemberFactory(family=family, role="child")
    return AppointmentFactory(member=member, agency=family.team.agency)


def _share(family, n):
    return ShareFactory(family=family, agency=AgencyFactory(name=f"Sync partner {n}", kind="school"))


def _gap(family, n):
    return InformationGap.objects.create(family=family, subject=f"question {n}", reason="not_asked")


def _relationship(family, n):
    parent = MemberFactory(family=family, role="mother", date_of_birth=None)
    child = MemberFactory(family=family, role="child")
    return Relationship.objects.create(family=family, from_member=parent, to_member=child, kind="parent_of")


def _family(family, n):
    return FamilyFactory(team=family.team, name=f"Sync family {n}")


def _agency(family, n):
    return AgencyFactory(name=f"Sync agency {n}", kind="gp")


LISTINGS = {
    "families": Listing(lambda f: "/api/v1/families/", _family, Family),
    "members": Listing(lambda f: "/api/v1/members/", _member, Member),
    "family-members": Listing(lambda f: f"/api/v1/families/{f.pk}/members/", _member, Member),
    "referrals": Listing(lambda f: "/api/v1/referrals/", _referral, Referral),
    "visits": Listing(lambda f: "/api/v1/visits/", _visit, Visit),
    "appointments": Listing(lambda f: "/api/v1/appointments/", _appointment, Appointment),
    "agencies": Listing(lambda f: "/api/v1/agencies/", _agency, Agency),
    "shares": Listing(lambda f: f"/api/v1/families/{f.pk}/shares/", _share, FamilyShare),
    "gaps": Listing(lambda f: f"/api/v1/families/{f.pk}/gaps/", _gap, InformationGap),
    "relationships": Listing(lambda f: f"/api/v1/families/{f.pk}/relationships/", _relationship, Relationship),
}
FILTERED = ["families", "members", "family-members", "referrals", "visits", "appointments", "agencies"]
NOT_FILTERED_YET = ["shares", "gaps"]


def set_updated_at(instance, when) -> None:
    type(instance).objects.filter(pk=instance.pk).update(updated_at=when)


def ids(response) -> set[int]:
    assert response.status_code == 200, response.content
    return {row["id"] for row in response.json()["results"]}


# --- pagination ------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(LISTINGS))
def test_every_list_is_paginated_and_page_size_works(practitioner, family, name):
    listing = LISTINGS[name]
    for n in range(3):
        listing.make(family, n)
    client = token_client(practitioner)
    url = listing.url(family)

    whole = client.get(url, {"page_size": 500}).json()
    assert set(whole) >= {"count", "next", "previous", "results"}
    total = whole["count"]
    assert total >= 3
    assert len(whole["results"]) == total
    assert whole["next"] is None and whole["previous"] is None

    first = client.get(url, {"page_size": 2}).json()
    assert first["count"] == total
    assert len(first["results"]) == 2
    assert first["previous"] is None
    # Cursor pages: `next` carries an opaque cursor (no OFFSET), and the count is not recomputed.
    assert first["next"] and "cursor=" in first["next"] and "page_size=2" in first["next"]

    seen = [row["id"] for row in first["results"]]
    page = first
    while page["next"]:
        page = client.get(page["next"]).json()
        assert page["previous"] and page["count"] is None
        seen += [row["id"] for row in page["results"]]
    assert len(seen) == len(set(seen)) == total  # stable order: no repeats, nothing skipped
    assert set(seen) == {row["id"] for row in whole["results"]}

    # v1 page numbers still work, with a count on every page.
    second = client.get(url, {"page_size": 2, "page": 2}).json()
    assert second["count"] == total
    assert [row["id"] for row in second["results"]] == seen[2:4]
    assert "page=3" in (second["next"] or "page=3") and "page=1" not in (second["previous"] or "")


def test_chronology_is_paginated(practitioner, family, child):
    for n in range(3):
        VisitFactory(family=family, purpose=f"Visit {n}")
    client = token_client(practitioner)
    url = f"/api/v1/families/{family.pk}/chronology/"
    first = client.get(url, {"page_size": 2}).json()
    assert set(first) >= {"count", "next", "previous", "results"}
    assert first["count"] == 3
    assert len(first["results"]) == 2
    second = client.get(first["next"]).json()
    assert len(second["results"]) == 1
    assert second["next"] is None and second["previous"]
    for entry in first["results"] + second["results"]:
        assert {"at", "kind", "summary", "agency"} <= set(entry)
    ats = [e["at"] for e in first["results"] + second["results"]]
    assert ats == sorted(ats, reverse=True)  # newest first


def test_default_page_size_is_bounded(practitioner, family):
    for n in range(55):
        FamilyFactory(team=family.team, name=f"Bulk {n:02d}")
    body = token_client(practitioner).get("/api/v1/families/").json()
    assert body["count"] == 56
    assert 0 < len(body["results"]) < 56
    assert body["next"]


def test_lead_professional_history_is_paginated(practitioner, teammate, family):
    client = token_client(practitioner)
    client.put(f"/api/v1/families/{family.pk}/lead-professional/", {"user": teammate.pk}, format="json")
    body = client.get(f"/api/v1/families/{family.pk}/lead-professional/").json()
    assert isinstance(body, dict)
    assert set(body) >= {"count", "next", "previous", "results"}


# --- updated_since ---------------------------------------------------------------------------------


@pytest.mark.parametrize("name", FILTERED)
def test_updated_since_leaves_out_older_records_and_keeps_newer(practitioner, family, name):
    listing = LISTINGS[name]
    old = listing.make(family, 1)
    new = listing.make(family, 2)
    set_updated_at(old, OLD)
    set_updated_at(new, CUTOFF + dt.timedelta(days=30))
    client = token_client(practitioner)
    url = listing.url(family)

    everything = ids(client.get(url, {"page_size": 500}))
    assert {old.pk, new.pk} <= everything
    for stamp in ("2024-01-01T00:00:00Z", "2024-01-01T00:00:00+00:00", "2024-01-01T01:00:00+01:00"):
        recent = ids(client.get(url, {"updated_since": stamp, "page_size": 500}))
        assert new.pk in recent, stamp
        assert old.pk not in recent, stamp


@pytest.mark.parametrize("name", FILTERED)
def test_updated_since_includes_a_record_changed_at_exactly_that_time(practitioner, family, name):
    listing = LISTINGS[name]
    record = listing.make(family, 1)
    set_updated_at(record, CUTOFF)
    response = token_client(practitioner).get(listing.url(family), {"updated_since": "2024-01-01T00:00:00Z"})
    assert record.pk in ids(response)


@pytest.mark.parametrize("name", NOT_FILTERED_YET)
def test_updated_since_on_family_sub_lists(practitioner, family, name):
    listing = LISTINGS[name]
    old = listing.make(family, 1)
    new = listing.make(family, 2)
    set_updated_at(old, OLD)
    set_updated_at(new, CUTOFF + dt.timedelta(days=30))
    recent = ids(token_client(practitioner).get(listing.url(family), {"updated_since": "2024-01-01T00:00:00Z"}))
    assert new.pk in recent
    assert old.pk not in recent


def test_updated_since_on_the_chronology(practitioner, family):
    old = VisitFactory(family=family, purpose="Old visit")
    new = VisitFactory(family=family, purpose="New visit")
    set_updated_at(old, OLD)
    set_updated_at(new, CUTOFF + dt.timedelta(days=1))
    body = token_client(practitioner).get(
        f"/api/v1/families/{family.pk}/chronology/", {"updated_since": "2024-01-01T00:00:00Z", "kind": "visit"}
    )
    assert body.status_code == 200
    summaries = [entry["summary"] for entry in body.json()["results"]]
    assert any("New visit" in s for s in summaries)
    assert not any("Old visit" in s for s in summaries)


def test_next_link_keeps_the_updated_since_filter(practitioner, family):
    for n in range(3):
        set_updated_at(_member(family, n), CUTOFF + dt.timedelta(days=n + 1))
    set_updated_at(_member(family, 99), OLD)
    client = token_client(practitioner)
    first = client.get("/api/v1/members/", {"updated_since": "2024-01-01T00:00:00Z", "page_size": 2}).json()
    assert first["count"] == 3
    assert "updated_since" in first["next"]
    second = client.get(first["next"]).json()
    assert len(first["results"]) + len(second["results"]) == 3


def test_updated_since_respects_visibility(partner, share, family, other_team_user):
    hidden = FamilyFactory(team=other_team_user.team)
    set_updated_at(hidden, CUTOFF + dt.timedelta(days=1))
    set_updated_at(family, CUTOFF + dt.timedelta(days=1))
    found = ids(token_client(partner).get("/api/v1/families/", {"updated_since": "2024-01-01T00:00:00Z"}))
    assert found == {family.pk}


# --- changes through the API move a record forward ----------------------------------------------------


@pytest.fixture
def stale(family, child, mother, practitioner, council):
    """Everything last changed in 2020."""
    visit = VisitFactory(family=family, practitioner=practitioner, status="scheduled")
    appointment = AppointmentFactory(member=child, agency=council, status="booked")
    referral = ReferralFactory(family=family)
    for instance in (family, child, mother, visit, appointment, referral):
        set_updated_at(instance, OLD)
    return {"visit": visit, "appointment": appointment, "referral": referral}


def changed_since(client, url, since) -> set[int]:
    return ids(client.get(url, {"updated_since": since.isoformat(), "page_size": 500}))


def test_updating_a_member_shows_it_and_its_family_in_the_next_sync(practitioner, family, child, stale):
    client = token_client(practitioner)
    since = timezone.now()
    assert client.patch(f"/api/v1/members/{child.pk}/", {"school": "Northtown Primary"}).status_code == 200
    assert changed_since(client, "/api/v1/members/", since) == {child.pk}
    assert changed_since(client, "/api/v1/families/", since) == {family.pk}


def test_adding_a_member_shows_the_family_in_the_next_sync(practitioner, family, stale):
    client = token_client(practitioner)
    since = timezone.now()
    response = client.post(
        f"/api/v1/families/{family.pk}/members/", {"given_name": "Ray", "family_name": "Smith", "role": "partner"}
    )
    assert response.status_code == 201
    assert changed_since(client, "/api/v1/families/", since) == {family.pk}
    assert changed_since(client, "/api/v1/members/", since) == {response.json()["id"]}


def test_updating_visit_appointment_and_referral_shows_them_in_the_next_sync(practitioner, family, child, stale):
    client = token_client(practitioner)
    since = timezone.now()
    visit, appointment, referral = stale["visit"], stale["appointment"], stale["referral"]
    assert client.patch(f"/api/v1/visits/{visit.pk}/", {"children_seen": [child.pk]}).status_code == 200
    assert client.patch(f"/api/v1/appointments/{appointment.pk}/", {"status": "attended"}).status_code == 200
    assert client.patch(f"/api/v1/referrals/{referral.pk}/", {"decision": "early_help"}).status_code == 200
    assert changed_since(client, "/api/v1/visits/", since) == {visit.pk}
    assert changed_since(client, "/api/v1/appointments/", since) == {appointment.pk}
    assert changed_since(client, "/api/v1/referrals/", since) == {referral.pk}
    assert changed_since(client, "/api/v1/families/", since) == {family.pk}


def test_a_partners_new_appointment_shows_in_the_owning_teams_next_sync(practitioner, partner, share, child, stale):
    since = timezone.now()
    response = token_client(partner).post(
        "/api/v1/appointments/",
        {"member": child.pk, "kind": "immunisation", "scheduled_for": "2025-01-10T09:00:00Z", "status": "attended"},
    )
    assert response.status_code == 201, response.content
    owner = token_client(practitioner)
    assert changed_since(owner, "/api/v1/appointments/", since) == {response.json()["id"]}
    assert changed_since(owner, "/api/v1/families/", since) == {child.family_id}


def test_setting_the_lead_professional_shows_the_family_in_the_next_sync(practitioner, teammate, family, stale):
    client = token_client(practitioner)
    since = timezone.now()
    assert client.put(f"/api/v1/families/{family.pk}/lead-professional/", {"user": teammate.pk}).status_code == 200
    assert changed_since(client, "/api/v1/families/", since) == {family.pk}


def test_unchanged_records_stay_out_of_the_next_sync(practitioner, family, stale):
    client = token_client(practitioner)
    since = timezone.now()
    for url in ("/api/v1/families/", "/api/v1/members/", "/api/v1/visits/", "/api/v1/appointments/"):
        client.get(url)
        assert changed_since(client, url, since) == set(), url
