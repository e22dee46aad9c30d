"""Who sees what, on every endpoint of the partner API (DESIGN 5 and 6).

- the owning team (practitioner, teammate, manager) and the admin: 200 everywhere;
- a partner with a current share: 200 (read), and may add visits and appointments;
- anyone else (another team, a partner without a share, or whose share has ended, expired or
  not yet started): 404 on every family-scoped URL and absent from every list — never 403,
  so record ids cannot be probed.
"""

from __future__ import annotations

import datetime as dt
from types import SimpleNamespace

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from accounts.services import token_matches
from accounts.tests.factories import api_token_for
from cases.models import Family, FamilyShare, InformationGap, LeadProfessionalAssignment, Member, Relationship
from cases.tests.factories import AgencyFactory, FamilyFactory, MemberFactory, PartnerUserFactory, ShareFactory
from referrals.models import Referral
from referrals.tests.factories import ReferralFactory
from visits.models import Appointment, Visit
from visits.tests.factories import AppointmentFactory, VisitFactory

pytestmark = pytest.mark.django_db

VISIBLE = ["practitioner", "teammate", "manager", "partner", "admin_user"]
OUTSIDERS = [
    "other_team_user",
    "unshared_partner",
    "ended_share_partner",
    "expired_share_partner",
    "future_share_partner",
]


# --- fixtures ------------------------------------------------------------------------------------


def token_client(user) -> APIClient:
    """A fresh client carrying the user's (one, reused) API token, as a partner's system would."""
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {api_token_for(user)}")
    return client


@pytest.fixture
def ended_share_partner(family):
    agency = AgencyFactory(name="Northshire Primary School", kind="school")
    ShareFactory(family=family, agency=agency, ended_at=timezone.now() - dt.timedelta(hours=1))
    return PartnerUserFactory(username="school-system", agency=agency)


@pytest.fixture
def expired_share_partner(family):
    agency = AgencyFactory(name="Northshire Housing", kind="housing")
    today = timezone.localdate()
    ShareFactory(family=family, agency=agency, starts=today - dt.timedelta(days=60), ends=today - dt.timedelta(days=1))
    return PartnerUserFactory(username="housing-system", agency=agency)


@pytest.fixture
def future_share_partner(family):
    agency = AgencyFactory(name="Northshire Youth Justice", kind="youth_justice")
    ShareFactory(family=family, agency=agency, starts=timezone.localdate() + dt.timedelta(days=1))
    return PartnerUserFactory(username="yjs-system", agency=agency)


@pytest.fixture
def world(family, child, mother, practitioner, share, health_agency, other_team_user):
    """One family with a record of every kind, plus another team's family for contrast."""
    referral = ReferralFactory(family=family, source="professional", concerns=["neglect"])
    visit = VisitFactory(family=family, practitioner=practitioner)
    visit.children_seen.set([child])
    appointment = AppointmentFactory(member=child, agency=health_agency)
    relationship = Relationship.objects.create(family=family, from_member=mother, to_member=child, kind="parent_of")
    gap = InformationGap.objects.create(family=family, subject="father", reason="declined")
    LeadProfessionalAssignment.objects.create(family=family, user=practitioner, assigned_by=practitioner)

    elsewhere = FamilyFactory(team=other_team_user.team, name="Brown family")
    elsewhere_child = MemberFactory(family=elsewhere, role="child")
    return SimpleNamespace(
        family=family,
        child=child,
        mother=mother,
        share=share,
        referral=referral,
        visit=visit,
        appointment=appointment,
        relationship=relationship,
        gap=gap,
        elsewhere=elsewhere,
        elsewhere_child=elsewhere_child,
    )


# Every URL that names the family or one of its records.
FAMILY_URLS = {
    "family": lambda w: f"/api/v1/families/{w.family.pk}/",
    "family-members": lambda w: f"/api/v1/families/{w.family.pk}/members/",
    "family-member": lambda w: f"/api/v1/families/{w.family.pk}/members/{w.child.pk}/",
    "member": lambda w: f"/api/v1/members/{w.child.pk}/",
    "shares": lambda w: f"/api/v1/families/{w.family.pk}/shares/",
    "share": lambda w: f"/api/v1/families/{w.family.pk}/shares/{w.share.pk}/",
    "lead-professional": lambda w: f"/api/v1/families/{w.family.pk}/lead-professional/",
    "relationships": lambda w: f"/api/v1/families/{w.family.pk}/relationships/",
    "relationship": lambda w: f"/api/v1/families/{w.family.pk}/relationships/{w.relationship.pk}/",
    "gaps": lambda w: f"/api/v1/families/{w.family.pk}/gaps/",
    "gap": lambda w: f"/api/v1/families/{w.family.pk}/gaps/{w.gap.pk}/",
    "chronology": lambda w: f"/api/v1/families/{w.family.pk}/chronology/",
    "referral": lambda w: f"/api/v1/referrals/{w.referral.pk}/",
    "visit": lambda w: f"/api/v1/visits/{w.visit.pk}/",
    "appointment": lambda w: f"/api/v1/appointments/{w.appointment.pk}/",
}

# Every top-level list, and the id of this family's record that must (or must not) be in it.
LISTS = {
    "families": ("/api/v1/families/", lambda w: w.family.pk),
    "members": ("/api/v1/members/", lambda w: w.child.pk),
    "referrals": ("/api/v1/referrals/", lambda w: w.referral.pk),
    "visits": ("/api/v1/visits/", lambda w: w.visit.pk),
    "appointments": ("/api/v1/appointments/", lambda w: w.appointment.pk),
}


def all_ids(client, url) -> set[int]:
    response = client.get(url, {"page_size": 500})
    assert response.status_code == 200, response.content
    return {row["id"] for row in response.json()["results"]}


# --- me and agencies ---------------------------------------------------------------------------


@pytest.mark.parametrize("persona", VISIBLE + OUTSIDERS)
def test_me_describes_the_caller(request, world, persona):
    user = request.getfixturevalue(persona)
    response = token_client(user).get("/api/v1/me/")
    assert response.status_code == 200
    body = response.json()
    assert body["id"] == user.pk
    assert body["username"] == user.username
    assert body["role"] == user.role
    assert body["agency"] == user.agency_id
    assert body["team"] == user.team_id


@pytest.mark.parametrize("persona", VISIBLE + OUTSIDERS)
def test_agencies_are_listed_for_every_signed_in_persona(request, world, persona, health_agency, council):
    user = request.getfixturevalue(persona)
    response = token_client(user).get("/api/v1/agencies/", {"page_size": 500})
    assert response.status_code == 200
    rows = {row["id"]: row for row in response.json()["results"]}
    assert {health_agency.pk, council.pk} <= set(rows)
    assert rows[health_agency.pk]["name"] == "Northshire Health Visiting"
    assert rows[health_agency.pk]["kind"] == "health_visiting"
    detail = token_client(user).get(f"/api/v1/agencies/{council.pk}/")
    assert detail.status_code == 200
    assert detail.json()["name"] == council.name


@pytest.mark.parametrize(
    "url",
    [
        "/api/v1/me/",
        "/api/v1/agencies/",
        "/api/v1/families/",
        "/api/v1/members/",
        "/api/v1/referrals/",
        "/api/v1/visits/",
        "/api/v1/appointments/",
    ],
)
def test_anonymous_caller_is_refused_with_401(world, url):
    assert APIClient().get(url).status_code == 401


def test_anonymous_caller_gets_401_on_family_scoped_urls(world):
    for name, build in FAMILY_URLS.items():
        assert APIClient().get(build(world)).status_code == 401, name


def test_a_wrong_token_is_refused_with_401(world):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION="Token 0000000000000000000000000000000000000000")
    assert client.get(f"/api/v1/families/{world.family.pk}/").status_code == 401


# --- reading the family's records ---------------------------------------------------------------


@pytest.mark.parametrize("endpoint", sorted(FAMILY_URLS))
@pytest.mark.parametrize("persona", VISIBLE)
def test_owning_team_admin_and_shared_partner_can_read(request, world, persona, endpoint):
    user = request.getfixturevalue(persona)
    response = token_client(user).get(FAMILY_URLS[endpoint](world))
    assert response.status_code == 200, response.content


@pytest.mark.parametrize("endpoint", sorted(FAMILY_URLS))
@pytest.mark.parametrize("persona", OUTSIDERS)
def test_outsiders_get_404_never_403(request, world, persona, endpoint):
    user = request.getfixturevalue(persona)
    response = token_client(user).get(FAMILY_URLS[endpoint](world))
    assert response.status_code == 404, response.content


@pytest.mark.parametrize("persona", OUTSIDERS)
def test_outsiders_get_the_same_404_for_a_real_id_as_for_a_missing_one(request, world, persona):
    user = request.getfixturevalue(persona)
    client = token_client(user)
    real = client.get(f"/api/v1/families/{world.family.pk}/")
    missing = client.get("/api/v1/families/999999999/")
    assert real.status_code == missing.status_code == 404
    assert real.json() == missing.json()


@pytest.mark.parametrize("list_name", sorted(LISTS))
@pytest.mark.parametrize("persona", VISIBLE)
def test_lists_include_the_family_for_those_who_may_see_it(request, world, persona, list_name):
    user = request.getfixturevalue(persona)
    url, record_id = LISTS[list_name]
    assert record_id(world) in all_ids(token_client(user), url)


@pytest.mark.parametrize("list_name", sorted(LISTS))
@pytest.mark.parametrize("persona", OUTSIDERS)
def test_lists_leave_the_family_out_for_outsiders(request, world, persona, list_name):
    user = request.getfixturevalue(persona)
    url, record_id = LISTS[list_name]
    assert record_id(world) not in all_ids(token_client(user), url)


@pytest.mark.parametrize("persona", ["practitioner", "teammate", "manager", "partner", "unshared_partner"])
def test_another_teams_family_is_absent_from_lists(request, world, persona):
    user = request.getfixturevalue(persona)
    client = token_client(user)
    assert world.elsewhere.pk not in all_ids(client, "/api/v1/families/")
    assert world.elsewhere_child.pk not in all_ids(client, "/api/v1/members/")
    assert client.get(f"/api/v1/families/{world.elsewhere.pk}/").status_code == 404


def test_other_team_practitioner_sees_their_own_family_only(world, other_team_user):
    client = token_client(other_team_user)
    assert all_ids(client, "/api/v1/families/") == {world.elsewhere.pk}
    assert all_ids(client, "/api/v1/members/") == {world.elsewhere_child.pk}


def test_admin_lists_every_family(world, admin_user):
    assert {world.family.pk, world.elsewhere.pk} <= all_ids(token_client(admin_user), "/api/v1/families/")


@pytest.mark.parametrize("persona", VISIBLE)
def test_family_scoped_lists_show_the_records_to_those_who_may_see_them(request, world, persona):
    client = token_client(request.getfixturevalue(persona))
    fid = world.family.pk
    assert all_ids(client, f"/api/v1/families/{fid}/members/") == {world.child.pk, world.mother.pk}
    assert all_ids(client, f"/api/v1/families/{fid}/relationships/") == {world.relationship.pk}
    assert all_ids(client, f"/api/v1/families/{fid}/gaps/") == {world.gap.pk}
    assert world.share.pk in all_ids(client, f"/api/v1/families/{fid}/shares/")
    chronology = client.get(f"/api/v1/families/{fid}/chronology/").json()["results"]
    assert {"referral", "visit", "appointment"} <= {entry["kind"] for entry in chronology}


def test_partner_sees_only_its_own_agencys_shares(world, practitioner, partner, unshared_partner):
    police_share = ShareFactory(family=world.family, agency=unshared_partner.agency)
    fid = world.family.pk
    assert all_ids(token_client(partner), f"/api/v1/families/{fid}/shares/") == {world.share.pk}
    assert {world.share.pk, police_share.pk} <= all_ids(token_client(practitioner), f"/api/v1/families/{fid}/shares/")
    other = token_client(partner).get(f"/api/v1/families/{fid}/shares/{police_share.pk}/")
    assert other.status_code == 404


def test_partner_chronology_does_not_reveal_other_agencies_shares(world, partner, unshared_partner):
    ShareFactory(family=world.family, agency=unshared_partner.agency, purpose="Police s47 joint investigation")
    response = token_client(partner).get(f"/api/v1/families/{world.family.pk}/chronology/", {"page_size": 500})
    assert response.status_code == 200
    assert b"Police s47 joint investigation" not in response.content
    assert b"Northshire Police" not in response.content


def test_partner_sees_a_shared_family_but_not_the_agencies_other_families(world, partner, team):
    unshared_family = FamilyFactory(team=team, name="Unshared family")
    client = token_client(partner)
    assert all_ids(client, "/api/v1/families/") == {world.family.pk}
    assert client.get(f"/api/v1/families/{unshared_family.pk}/").status_code == 404


# --- ending a share ends access at once ---------------------------------------------------------


def test_deleting_the_share_ends_the_partners_access_at_once_for_an_existing_token(world, practitioner, partner):
    partner_client = token_client(partner)
    token_before = api_token_for(partner)
    for name, build in FAMILY_URLS.items():
        if name == "share":
            continue
        assert partner_client.get(build(world)).status_code == 200, name

    response = token_client(practitioner).delete(f"/api/v1/families/{world.family.pk}/shares/{world.share.pk}/")
    assert response.status_code == 204

    assert token_matches(user=partner, key=token_before)  # same token, no re-login
    for name, build in FAMILY_URLS.items():
        assert partner_client.get(build(world)).status_code == 404, name
    for list_name, (url, record_id) in LISTS.items():
        assert record_id(world) not in all_ids(partner_client, url), list_name

    world.share.refresh_from_db()
    assert world.share.ended_at is not None  # the record of the share stays
    owner_view = token_client(practitioner).get(f"/api/v1/families/{world.family.pk}/shares/{world.share.pk}/")
    assert owner_view.status_code == 200
    assert owner_view.json()["current"] is False
    assert owner_view.json()["ended_at"] is not None


def test_deleting_the_share_stops_the_partner_recording_events(world, practitioner, partner):
    token_client(practitioner).delete(f"/api/v1/families/{world.family.pk}/shares/{world.share.pk}/")
    response = token_client(partner).post(
        "/api/v1/appointments/",
        {"member": world.child.pk, "kind": "health_review", "scheduled_for": "2025-03-01T10:00:00Z"},
        format="json",
    )
    assert response.status_code == 400
    assert "member" in response.json()
    assert (
        not Appointment.objects.filter(agency=partner.agency, member=world.child)
        .exclude(pk=world.appointment.pk)
        .exists()
    )


# --- what partners may write ---------------------------------------------------------------------


def visit_payload(family, **extra):
    payload = {
        "family": family.pk,
        "planned": True,
        "purpose": "Check the baby's weight and feeding",
        "expected_outcome": "Weight plotted; feeding plan agreed",
        "scheduled_for": "2025-03-01T10:00:00Z",
        "status": "completed",
    }
    payload.update(extra)
    return payload


def test_partner_records_a_visit_for_a_shared_family_as_its_own_agency(world, partner, health_agency):
    response = token_client(partner).post(
        "/api/v1/visits/", visit_payload(world.family, children_seen=[world.child.pk]), format="json"
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["agency"] == health_agency.pk
    assert body["practitioner"] == partner.pk
    assert body["family"] == world.family.pk
    assert body["children_seen"] == [world.child.pk]


def test_partner_cannot_record_a_visit_for_another_agency(world, partner, council):
    before = Visit.objects.count()
    response = token_client(partner).post(
        "/api/v1/visits/", visit_payload(world.family, agency=council.pk), format="json"
    )
    assert response.status_code == 400
    assert "agency" in response.json()
    assert Visit.objects.count() == before


def test_partner_records_an_appointment_for_a_shared_member_as_its_own_agency(world, partner, health_agency):
    response = token_client(partner).post(
        "/api/v1/appointments/",
        {
            "member": world.child.pk,
            "kind": "development_check",
            "scheduled_for": "2025-03-01T10:00:00Z",
            "status": "was_not_brought",
            "critical": True,
        },
        format="json",
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["agency"] == health_agency.pk
    assert body["family"] == world.family.pk
    assert body["status"] == "was_not_brought"


def test_partner_cannot_record_an_appointment_for_another_agency(world, partner, council):
    before = Appointment.objects.count()
    response = token_client(partner).post(
        "/api/v1/appointments/",
        {"member": world.child.pk, "agency": council.pk, "kind": "gp", "scheduled_for": "2025-03-01T10:00:00Z"},
        format="json",
    )
    assert response.status_code == 400
    assert "agency" in response.json()
    assert Appointment.objects.count() == before


@pytest.mark.parametrize("persona", ["unshared_partner", "other_team_user", "expired_share_partner"])
def test_outsider_cannot_record_events_for_an_invisible_family(request, world, persona):
    client = token_client(request.getfixturevalue(persona))
    visits, appointments = Visit.objects.count(), Appointment.objects.count()
    response = client.post("/api/v1/visits/", visit_payload(world.family), format="json")
    assert response.status_code in (400, 404)
    if response.status_code == 400:
        assert "family" in response.json()
    response = client.post(
        "/api/v1/appointments/",
        {"member": world.child.pk, "kind": "gp", "scheduled_for": "2025-03-01T10:00:00Z"},
        format="json",
    )
    assert response.status_code in (400, 404)
    if response.status_code == 400:
        assert "member" in response.json()
    assert (Visit.objects.count(), Appointment.objects.count()) == (visits, appointments)


def test_partner_cannot_name_a_member_of_an_unshared_family_as_seen(world, partner, team):
    hidden = MemberFactory(family=FamilyFactory(team=team), role="child")
    response = token_client(partner).post(
        "/api/v1/visits/", visit_payload(world.family, children_seen=[hidden.pk]), format="json"
    )
    assert response.status_code == 400
    assert "children_seen" in response.json()


def test_partner_cannot_create_a_family(world, partner, team):
    before = Family.objects.count()
    client = token_client(partner)
    assert client.post("/api/v1/families/", {"name": "Partner family"}, format="json").status_code in (400, 403)
    response = client.post("/api/v1/families/", {"name": "Partner family", "team": team.pk}, format="json")
    assert response.status_code in (400, 403)
    assert Family.objects.count() == before


def test_partner_cannot_add_members_to_a_shared_family(world, partner):
    before = Member.objects.count()
    client = token_client(partner)
    person = {"given_name": "Lee", "family_name": "Smith", "role": "partner", "lives_in_household": False}
    assert client.post(f"/api/v1/families/{world.family.pk}/members/", person, format="json").status_code == 403
    assert client.post("/api/v1/members/", {**person, "family": world.family.pk}, format="json").status_code == 403
    assert Member.objects.count() == before


def test_partner_cannot_change_a_member(world, partner):
    response = token_client(partner).patch(f"/api/v1/members/{world.child.pk}/", {"given_name": "X"}, format="json")
    assert response.status_code == 403
    world.child.refresh_from_db()
    assert world.child.given_name == "Kai"


def test_partner_cannot_record_a_referral(world, partner):
    before = Referral.objects.count()
    response = token_client(partner).post(
        "/api/v1/referrals/",
        {"family": world.family.pk, "source": "professional", "concerns": ["neglect"], "summary": "Worried."},
        format="json",
    )
    assert response.status_code == 403
    assert Referral.objects.count() == before


def test_partner_cannot_change_the_family_record(world, partner, health_agency, unshared_partner):
    client = token_client(partner)
    fid = world.family.pk
    assert client.patch(f"/api/v1/families/{fid}/", {"name": "Renamed"}, format="json").status_code == 403
    assert (
        client.put(f"/api/v1/families/{fid}/lead-professional/", {"user": partner.pk}, format="json").status_code == 403
    )
    share = {"agency": unshared_partner.agency_id, "purpose": "p", "legal_basis": "b"}
    assert client.post(f"/api/v1/families/{fid}/shares/", share, format="json").status_code == 403
    gap = {"subject": "father", "reason": "not_asked"}
    assert client.post(f"/api/v1/families/{fid}/gaps/", gap, format="json").status_code == 403
    rel = {"from_member": world.mother.pk, "to_member": world.child.pk, "kind": "partner_of"}
    assert client.post(f"/api/v1/families/{fid}/relationships/", rel, format="json").status_code == 403
    assert client.delete(f"/api/v1/families/{fid}/shares/{world.share.pk}/").status_code == 403
    assert client.post(f"/api/v1/families/{fid}/gaps/{world.gap.pk}/resolve/").status_code == 403
    world.family.refresh_from_db()
    world.share.refresh_from_db()
    world.gap.refresh_from_db()
    assert world.family.name == "Smith family"
    assert world.share.ended_at is None
    assert world.gap.resolved_at is None
    assert FamilyShare.objects.filter(family=world.family).count() == 1


def test_partner_cannot_change_the_owning_teams_visit(world, partner):
    response = token_client(partner).patch(f"/api/v1/visits/{world.visit.pk}/", {"outcome": "x"}, format="json")
    assert response.status_code == 403


def test_partner_changes_its_own_appointment(world, partner):
    assert world.appointment.agency_id == partner.agency_id
    response = token_client(partner).patch(
        f"/api/v1/appointments/{world.appointment.pk}/", {"status": "was_not_brought"}, format="json"
    )
    assert response.status_code == 200, response.content
    assert response.json()["status"] == "was_not_brought"


# --- what outsiders may write ---------------------------------------------------------------------


@pytest.mark.parametrize("persona", OUTSIDERS)
def test_outsiders_cannot_write_to_an_invisible_family(request, world, persona):
    client = token_client(request.getfixturevalue(persona))
    fid = world.family.pk
    counts = (Member.objects.count(), Referral.objects.count(), FamilyShare.objects.count())
    person = {"given_name": "Lee", "family_name": "Smith", "role": "partner"}
    assert client.post(f"/api/v1/families/{fid}/members/", person, format="json").status_code == 404
    response = client.post("/api/v1/members/", {**person, "family": fid}, format="json")
    assert response.status_code in (400, 404)
    response = client.post(
        "/api/v1/referrals/",
        {"family": fid, "source": "public", "concerns": ["neglect"], "summary": "Worried."},
        format="json",
    )
    assert response.status_code in (400, 404)
    assert client.patch(f"/api/v1/families/{fid}/", {"name": "X"}, format="json").status_code == 404
    assert client.patch(f"/api/v1/members/{world.child.pk}/", {"given_name": "X"}, format="json").status_code == 404
    assert client.patch(f"/api/v1/visits/{world.visit.pk}/", {"outcome": "X"}, format="json").status_code == 404
    assert client.put(f"/api/v1/families/{fid}/lead-professional/", {"user": None}, format="json").status_code == 404
    assert client.delete(f"/api/v1/families/{fid}/shares/{world.share.pk}/").status_code == 404
    assert client.post(f"/api/v1/families/{fid}/gaps/{world.gap.pk}/resolve/").status_code == 404
    assert (Member.objects.count(), Referral.objects.count(), FamilyShare.objects.count()) == counts
    world.share.refresh_from_db()
    assert world.share.ended_at is None


# --- the owning team and the admin write ---------------------------------------------------------


@pytest.mark.parametrize("persona", ["practitioner", "teammate", "manager", "admin_user"])
def test_owning_team_and_admin_change_the_family(request, world, persona):
    client = token_client(request.getfixturevalue(persona))
    response = client.patch(f"/api/v1/families/{world.family.pk}/", {"level": "child_in_need"}, format="json")
    assert response.status_code == 200, response.content
    assert response.json()["level"] == "child_in_need"


def test_admin_creates_a_family_for_a_named_team(admin_user, team):
    response = token_client(admin_user).post("/api/v1/families/", {"name": "Admin family", "team": team.pk})
    assert response.status_code == 201, response.content
    assert response.json()["team"] == team.pk


def test_practitioner_cannot_create_a_family_for_another_team(practitioner, other_team_user):
    response = token_client(practitioner).post(
        "/api/v1/families/", {"name": "Not ours", "team": other_team_user.team_id}, format="json"
    )
    assert response.status_code in (400, 403)
    assert not Family.objects.filter(name="Not ours").exists()
