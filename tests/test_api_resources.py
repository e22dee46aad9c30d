"""Creating, reading and updating each resource of the partner API (DESIGN 3 and 5), and the
rules that reject bad input with a 400 naming the field, leaving nothing half-saved."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from accounts.tests.factories import api_token_for
from cases.models import Family, FamilyShare, InformationGap, LeadProfessionalAssignment, Member, Relationship
from cases.tests.factories import FamilyFactory, MemberFactory
from referrals.models import Referral
from visits.models import Appointment, Visit
from visits.tests.factories import AppointmentFactory, VisitFactory

pytestmark = pytest.mark.django_db


def token_client(user) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {api_token_for(user)}")
    # A server error comes back as a 500 response, so a test can assert on it.
    client.raise_request_exception = False
    return client


@pytest.fixture
def owner(practitioner):
    return token_client(practitioner)


@pytest.fixture
def father(family):
    return MemberFactory(
        family=family,
        given_name="Dean",
        family_name="Smith",
        role="father",
        lives_in_household=False,
        contact_phone="07700 900456",
        date_of_birth=None,
    )


# --- families -----------------------------------------------------------------------------------


def test_create_family_defaults_to_the_creators_team_and_reads_back(owner, practitioner):
    response = owner.post(
        "/api/v1/families/",
        {
            "name": "Jones family",
            "level": "child_in_need",
            "address": "1 High Street",
            "postcode": "NS1 1AA",
            "significant_adults_confirmed": True,
            "significant_adults_note": "Mum says no new partner; dad in contact weekly.",
        },
        format="json",
    )
    assert response.status_code == 201, response.content
    body = response.json()
    for key in ("id", "name", "status", "level", "team", "lead_professional", "members", "updated_at"):
        assert key in body
    assert body["team"] == practitioner.team_id
    assert body["status"] == "open"
    assert body["level"] == "child_in_need"
    assert body["lead_professional"] is None
    assert body["significant_adults_confirmed"] is True
    assert body["significant_adults_confirmed_at"] is not None
    assert body["reference"]

    detail = owner.get(f"/api/v1/families/{body['id']}/").json()
    assert detail == body


def test_create_family_with_lead_professional_opens_the_lead_history(owner, practitioner):
    response = owner.post("/api/v1/families/", {"name": "Lead family", "lead_professional": practitioner.pk})
    assert response.status_code == 201, response.content
    fid = response.json()["id"]
    assert response.json()["lead_professional"] == practitioner.pk
    history = owner.get(f"/api/v1/families/{fid}/lead-professional/").json()
    rows = history["results"] if isinstance(history, dict) else history
    assert [(row["user"], row["ended_at"]) for row in rows] == [(practitioner.pk, None)]


def test_update_family_fields(owner, family):
    response = owner.patch(
        f"/api/v1/families/{family.pk}/",
        {"status": "closed", "level": "child_protection", "significant_adults_confirmed": True},
        format="json",
    )
    assert response.status_code == 200, response.content
    body = response.json()
    assert (body["status"], body["level"], body["significant_adults_confirmed"]) == (
        "closed",
        "child_protection",
        True,
    )
    assert body["significant_adults_confirmed_at"] is not None
    family.refresh_from_db()
    assert family.status == "closed"


def test_bad_family_input_is_a_400_naming_the_field(owner):
    before = Family.objects.count()
    response = owner.post("/api/v1/families/", {"name": "", "status": "ajar"}, format="json")
    assert response.status_code == 400
    assert {"name", "status"} <= set(response.json())
    assert Family.objects.count() == before


def test_put_family_with_its_own_get_body_is_not_a_server_error(owner, family):
    body = owner.get(f"/api/v1/families/{family.pk}/").json()
    body["name"] = "Smith-Jones family"
    response = owner.put(f"/api/v1/families/{family.pk}/", body, format="json")
    assert response.status_code in (200, 400), response.status_code


def test_moving_a_family_to_another_team_is_a_400_not_a_server_error(owner, family, other_team_user):
    response = owner.patch(f"/api/v1/families/{family.pk}/", {"team": other_team_user.team_id}, format="json")
    assert response.status_code == 400, response.status_code
    assert "team" in response.json()
    family.refresh_from_db()
    assert family.team_id != other_team_user.team_id


def test_ineligible_lead_professional_on_the_family_names_the_lead_professional_field(owner, family, other_team_user):
    created = owner.post("/api/v1/families/", {"name": "Z", "lead_professional": other_team_user.pk}, format="json")
    changed = owner.patch(f"/api/v1/families/{family.pk}/", {"lead_professional": other_team_user.pk}, format="json")
    for response in (created, changed):
        assert response.status_code == 400
        assert "lead_professional" in response.json(), response.json()


def test_ineligible_lead_professional_on_create_saves_no_family(owner, other_team_user):
    response = owner.post("/api/v1/families/", {"name": "Half family", "lead_professional": other_team_user.pk})
    assert response.status_code == 400
    assert not Family.objects.filter(name="Half family").exists()


def test_ineligible_lead_professional_on_update_changes_nothing(owner, family, practitioner, other_team_user):
    response = owner.patch(
        f"/api/v1/families/{family.pk}/", {"name": "Renamed", "lead_professional": other_team_user.pk}, format="json"
    )
    assert response.status_code == 400
    family.refresh_from_db()
    assert (family.name, family.lead_professional_id) == ("Smith family", practitioner.pk)


# --- members ----------------------------------------------------------------------------------------


def test_create_an_absent_father_with_contact_details(owner, family):
    response = owner.post(
        f"/api/v1/families/{family.pk}/members/",
        {
            "given_name": "Dean",
            "family_name": "Smith",
            "role": "father",
            "lives_in_household": False,
            "parental_responsibility": True,
            "contact_phone": "07700 900456",
            "contact_address": "Flat 2, 9 Mill Lane, Northtown",
        },
        format="json",
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["family"] == family.pk
    assert body["role"] == "father"
    assert body["lives_in_household"] is False
    assert body["contact_phone"] == "07700 900456"
    assert body["contact_address"] == "Flat 2, 9 Mill Lane, Northtown"

    detail = owner.get(f"/api/v1/members/{body['id']}/").json()
    assert detail == body
    family_view = owner.get(f"/api/v1/families/{family.pk}/").json()
    assert body["id"] in [m["id"] for m in family_view["members"]]
    dad = next(m for m in family_view["members"] if m["id"] == body["id"])
    assert dad["lives_in_household"] is False


def test_create_member_through_the_top_level_list(owner, family):
    response = owner.post(
        "/api/v1/members/",
        {
            "family": family.pk,
            "given_name": "Mia",
            "family_name": "Smith",
            "role": "child",
            "date_of_birth": "2021-05-04",
            "additional_needs": "Global developmental delay; uses Makaton",
        },
        format="json",
    )
    assert response.status_code == 201, response.content
    body = response.json()
    for key in (
        "id",
        "family",
        "given_name",
        "family_name",
        "role",
        "date_of_birth",
        "lives_in_household",
        "contact_phone",
        "contact_address",
        "additional_needs",
    ):
        assert key in body
    assert body["date_of_birth"] == "2021-05-04"
    assert body["additional_needs"].startswith("Global developmental delay")


def test_update_a_member(owner, father):
    response = owner.patch(
        f"/api/v1/members/{father.pk}/", {"contact_phone": "07700 900999", "lives_in_household": True}, format="json"
    )
    assert response.status_code == 200, response.content
    assert response.json()["contact_phone"] == "07700 900999"
    assert response.json()["lives_in_household"] is True
    father.refresh_from_db()
    assert father.contact_phone == "07700 900999"


def test_a_member_never_moves_family(owner, father, team):
    elsewhere = FamilyFactory(team=team)
    response = owner.patch(f"/api/v1/members/{father.pk}/", {"family": elsewhere.pk}, format="json")
    assert response.status_code in (200, 400)
    father.refresh_from_db()
    assert father.family_id != elsewhere.pk


def test_bad_member_role_is_400_and_nothing_saved(owner, family):
    before = Member.objects.count()
    response = owner.post(
        f"/api/v1/families/{family.pk}/members/",
        {"given_name": "X", "family_name": "Y", "role": "uncle"},
        format="json",
    )
    assert response.status_code == 400
    assert "role" in response.json()
    assert Member.objects.count() == before


def test_a_child_with_a_was_not_brought_appointment_cannot_become_an_adult(owner, child, council):
    AppointmentFactory(member=child, agency=council, status="was_not_brought")
    response = owner.patch(f"/api/v1/members/{child.pk}/", {"role": "sibling", "given_name": "K"}, format="json")
    assert response.status_code == 400
    assert "role" in response.json()
    child.refresh_from_db()
    assert (child.role, child.given_name) == ("child", "Kai")


def test_changing_role_moves_appointments_between_child_and_adult_rules(owner, child, council):
    booked = AppointmentFactory(member=child, agency=council, status="booked")
    assert owner.patch(f"/api/v1/members/{child.pk}/", {"role": "sibling"}, format="json").status_code == 200
    response = owner.patch(f"/api/v1/appointments/{booked.pk}/", {"status": "did_not_attend"}, format="json")
    assert response.status_code == 200, response.content


# --- visits ------------------------------------------------------------------------------------------


def visit(family, **extra):
    payload = {"family": family.pk, "scheduled_for": "2025-02-10T15:30:00Z", "status": "completed"}
    payload.update(extra)
    return payload


def test_planned_visit_without_a_purpose_is_400_and_nothing_saved(owner, family):
    response = owner.post("/api/v1/visits/", visit(family, planned=True), format="json")
    assert response.status_code == 400
    assert "purpose" in response.json()
    assert not Visit.objects.exists()


def test_planned_visit_without_an_expected_outcome_is_400(owner, family):
    response = owner.post("/api/v1/visits/", visit(family, planned=True, purpose="Review plan"), format="json")
    assert response.status_code == 400
    assert "expected_outcome" in response.json()
    assert not Visit.objects.exists()


def test_a_visit_is_planned_unless_said_otherwise(owner, family):
    response = owner.post("/api/v1/visits/", visit(family), format="json")
    assert response.status_code == 400
    assert "purpose" in response.json()


def test_planned_visit_with_purpose_and_expected_outcome_is_created(owner, family, child, practitioner, council):
    response = owner.post(
        "/api/v1/visits/",
        visit(
            family,
            planned=True,
            purpose="Review the safety plan with mum",
            expected_outcome="Safety plan agreed and signed",
            purpose_shared_with_family=True,
            outcome="Plan signed.",
            children_seen=[child.pk],
            children_seen_alone=[child.pk],
            voice_of_child="Kai said he likes it when nanny visits.",
        ),
        format="json",
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["planned"] is True
    assert body["purpose"] == "Review the safety plan with mum"
    assert body["expected_outcome"] == "Safety plan agreed and signed"
    assert body["children_seen"] == [child.pk]
    assert body["children_seen_alone"] == [child.pk]
    assert body["voice_of_child"].startswith("Kai said")
    assert body["practitioner"] == practitioner.pk
    assert body["agency"] == council.pk
    assert owner.get(f"/api/v1/visits/{body['id']}/").json() == body


def test_unplanned_visit_needs_no_purpose(owner, family):
    response = owner.post("/api/v1/visits/", visit(family, planned=False, status="no_access"), format="json")
    assert response.status_code == 201, response.content
    assert response.json()["planned"] is False
    assert response.json()["purpose"] == ""


def test_child_seen_alone_must_also_be_seen(owner, family, child):
    second = MemberFactory(family=family, role="child", given_name="Lola")
    response = owner.post(
        "/api/v1/visits/",
        visit(family, planned=False, children_seen=[child.pk], children_seen_alone=[second.pk]),
        format="json",
    )
    assert response.status_code == 400
    assert "children_seen_alone" in response.json()
    assert not Visit.objects.exists()


def test_children_seen_must_be_children_of_the_family(owner, family, mother, team):
    other_child = MemberFactory(family=FamilyFactory(team=team), role="child")
    for seen in ([mother.pk], [other_child.pk]):
        response = owner.post("/api/v1/visits/", visit(family, planned=False, children_seen=seen), format="json")
        assert response.status_code == 400
        assert "children_seen" in response.json()
    assert not Visit.objects.exists()


def test_update_a_visit(owner, family, child, practitioner):
    existing = VisitFactory(family=family, practitioner=practitioner, status="scheduled")
    response = owner.patch(
        f"/api/v1/visits/{existing.pk}/",
        {"status": "completed", "outcome": "Seen at home.", "children_seen": [child.pk]},
        format="json",
    )
    assert response.status_code == 200, response.content
    assert response.json()["status"] == "completed"
    assert response.json()["children_seen"] == [child.pk]


def test_making_an_unplanned_visit_planned_needs_a_purpose(owner, family, practitioner):
    existing = VisitFactory(family=family, practitioner=practitioner, planned=False, purpose="", expected_outcome="")
    response = owner.patch(f"/api/v1/visits/{existing.pk}/", {"planned": True}, format="json")
    assert response.status_code == 400
    assert "purpose" in response.json()
    existing.refresh_from_db()
    assert existing.planned is False


def test_visit_update_that_breaks_seen_alone_saves_nothing(owner, family, child, practitioner):
    existing = VisitFactory(family=family, practitioner=practitioner, outcome="before")
    existing.children_seen.set([child])
    existing.children_seen_alone.set([child])
    response = owner.patch(f"/api/v1/visits/{existing.pk}/", {"outcome": "after", "children_seen": []}, format="json")
    assert response.status_code == 400
    assert "children_seen_alone" in response.json()
    existing.refresh_from_db()
    assert existing.outcome == "before"
    assert list(existing.children_seen.all()) == [child]


def test_bad_visit_status_is_400(owner, family):
    response = owner.post("/api/v1/visits/", visit(family, planned=False, status="went_well"), format="json")
    assert response.status_code == 400
    assert "status" in response.json()


# --- appointments ------------------------------------------------------------------------------------


def appointment(member, **extra):
    payload = {"member": member.pk, "kind": "health_review", "scheduled_for": "2025-02-10T09:00:00Z"}
    payload.update(extra)
    return payload


def test_child_did_not_attend_is_400_on_status(owner, child):
    response = owner.post("/api/v1/appointments/", appointment(child, status="did_not_attend"), format="json")
    assert response.status_code == 400
    assert "status" in response.json()
    assert not Appointment.objects.exists()


def test_adult_was_not_brought_is_400_on_status(owner, mother):
    response = owner.post("/api/v1/appointments/", appointment(mother, status="was_not_brought"), format="json")
    assert response.status_code == 400
    assert "status" in response.json()
    assert not Appointment.objects.exists()


def test_child_was_not_brought_is_created(owner, child, family, council):
    response = owner.post(
        "/api/v1/appointments/",
        appointment(child, kind="paediatric_review", status="was_not_brought", critical=True),
        format="json",
    )
    assert response.status_code == 201, response.content
    body = response.json()
    for key in ("id", "member", "agency", "kind", "scheduled_for", "critical", "status"):
        assert key in body
    assert (body["member"], body["family"], body["agency"]) == (child.pk, family.pk, council.pk)
    assert (body["kind"], body["status"], body["critical"]) == ("paediatric_review", "was_not_brought", True)
    assert owner.get(f"/api/v1/appointments/{body['id']}/").json() == body


def test_adult_did_not_attend_is_created(owner, mother):
    response = owner.post("/api/v1/appointments/", appointment(mother, kind="gp", status="did_not_attend"))
    assert response.status_code == 201, response.content


def test_appointment_for_another_agency_by_the_owning_team(owner, child, health_agency):
    response = owner.post("/api/v1/appointments/", appointment(child, agency=health_agency.pk), format="json")
    assert response.status_code == 201, response.content
    assert response.json()["agency"] == health_agency.pk


def test_updating_a_childs_appointment_to_did_not_attend_is_400(owner, child, council):
    existing = AppointmentFactory(member=child, agency=council, status="booked")
    response = owner.patch(f"/api/v1/appointments/{existing.pk}/", {"status": "did_not_attend"}, format="json")
    assert response.status_code == 400
    assert "status" in response.json()
    existing.refresh_from_db()
    assert existing.status == "booked"


def test_update_appointment_status(owner, child, council):
    existing = AppointmentFactory(member=child, agency=council, status="booked")
    response = owner.patch(f"/api/v1/appointments/{existing.pk}/", {"status": "attended"}, format="json")
    assert response.status_code == 200, response.content
    assert response.json()["status"] == "attended"


def test_bad_appointment_kind_is_400(owner, child):
    response = owner.post("/api/v1/appointments/", appointment(child, kind="astrology"), format="json")
    assert response.status_code == 400
    assert "kind" in response.json()


# --- referrals ------------------------------------------------------------------------------------


def referral(family, **extra):
    payload = {"family": family.pk, "source": "anonymous", "concerns": ["neglect"], "summary": "Worried caller."}
    payload.update(extra)
    return payload


def test_anonymous_referral_without_referrer_details_is_accepted(owner, family):
    response = owner.post("/api/v1/referrals/", referral(family), format="json")
    assert response.status_code == 201, response.content
    body = response.json()
    for key in ("id", "family", "received_at", "source", "concerns", "summary", "decision"):
        assert key in body
    assert body["source"] == "anonymous"
    assert body["referrer_name"] == ""
    assert body["received_at"]
    assert owner.get(f"/api/v1/referrals/{body['id']}/").json() == body


def test_unknown_concern_code_is_400_and_nothing_saved(owner, family):
    response = owner.post("/api/v1/referrals/", referral(family, concerns=["neglect", "witchcraft"]), format="json")
    assert response.status_code == 400
    assert "concerns" in response.json()
    assert not Referral.objects.exists()


def test_referral_needs_at_least_one_concern(owner, family):
    response = owner.post("/api/v1/referrals/", referral(family, concerns=[]), format="json")
    assert response.status_code == 400
    assert "concerns" in response.json()


def test_bad_referral_source_is_400(owner, family):
    response = owner.post("/api/v1/referrals/", referral(family, source="psychic"), format="json")
    assert response.status_code == 400
    assert "source" in response.json()


@pytest.mark.parametrize("source", ["professional", "family", "public", "child", "anonymous"])
def test_physical_abuse_is_high_priority_whatever_the_source(owner, family, source):
    response = owner.post("/api/v1/referrals/", referral(family, source=source, concerns=["physical_abuse"]))
    assert response.status_code == 201, response.content
    assert response.json()["priority"] == "high"


@pytest.mark.parametrize("concerns", [["neglect"], ["sexual_abuse"], ["home_conditions", "mental_health"]])
def test_anonymous_referral_is_weighed_like_a_professional_one(owner, family, concerns):
    anonymous = owner.post("/api/v1/referrals/", referral(family, source="anonymous", concerns=concerns)).json()
    professional = owner.post("/api/v1/referrals/", referral(family, source="professional", concerns=concerns)).json()
    assert anonymous["priority"] == professional["priority"]


def test_record_a_referral_decision(owner, family):
    created = owner.post("/api/v1/referrals/", referral(family), format="json").json()
    assert created["decision"] == ""
    response = owner.patch(f"/api/v1/referrals/{created['id']}/", {"decision": "assessment"}, format="json")
    assert response.status_code == 200, response.content
    assert response.json()["decision"] == "assessment"
    assert response.json()["decision_at"] is not None


# --- shares -----------------------------------------------------------------------------------------


def test_share_a_family_with_a_partner_agency(owner, family, unshared_partner):
    agency = unshared_partner.agency
    today = timezone.localdate()
    response = owner.post(
        f"/api/v1/families/{family.pk}/shares/",
        {
            "agency": agency.pk,
            "purpose": "Joint investigation of domestic abuse incident",
            "legal_basis": "Children Act 1989 s.47",
            "ends": str(today + dt.timedelta(days=90)),
        },
        format="json",
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["agency"] == agency.pk
    assert body["purpose"].startswith("Joint investigation")
    assert body["legal_basis"] == "Children Act 1989 s.47"
    assert body["starts"] == str(today)
    assert body["ends"] == str(today + dt.timedelta(days=90))
    assert body["current"] is True
    assert token_client(unshared_partner).get(f"/api/v1/families/{family.pk}/").status_code == 200


def test_share_ending_before_it_starts_is_400_on_ends(owner, family, unshared_partner):
    response = owner.post(
        f"/api/v1/families/{family.pk}/shares/",
        {
            "agency": unshared_partner.agency_id,
            "purpose": "p",
            "legal_basis": "b",
            "starts": "2025-06-01",
            "ends": "2025-05-01",
        },
        format="json",
    )
    assert response.status_code == 400
    assert "ends" in response.json()
    assert not FamilyShare.objects.filter(family=family).exists()


def test_share_ending_in_the_past_names_the_ends_field(owner, family, unshared_partner):
    response = owner.post(
        f"/api/v1/families/{family.pk}/shares/",
        {"agency": unshared_partner.agency_id, "purpose": "p", "legal_basis": "b", "ends": "2020-01-01"},
        format="json",
    )
    assert response.status_code == 400
    assert "ends" in response.json()


def test_share_needs_purpose_and_legal_basis(owner, family, unshared_partner):
    response = owner.post(
        f"/api/v1/families/{family.pk}/shares/",
        {"agency": unshared_partner.agency_id, "purpose": "", "legal_basis": ""},
        format="json",
    )
    assert response.status_code == 400
    assert {"purpose", "legal_basis"} <= set(response.json())
    assert not FamilyShare.objects.exists()


def test_sharing_with_the_familys_own_agency_is_400(owner, family, council):
    response = owner.post(
        f"/api/v1/families/{family.pk}/shares/",
        {"agency": council.pk, "purpose": "p", "legal_basis": "b"},
        format="json",
    )
    assert response.status_code == 400
    assert "agency" in response.json()


# --- lead professional -------------------------------------------------------------------------------


def test_set_a_teammate_as_lead_professional(owner, family, teammate):
    response = owner.put(f"/api/v1/families/{family.pk}/lead-professional/", {"user": teammate.pk}, format="json")
    assert response.status_code == 200, response.content
    assert response.json()["lead_professional"] == teammate.pk
    assert owner.get(f"/api/v1/families/{family.pk}/").json()["lead_professional"] == teammate.pk


def test_a_shared_partners_user_can_be_lead_professional(owner, family, share, partner):
    response = owner.put(f"/api/v1/families/{family.pk}/lead-professional/", {"user": partner.pk}, format="json")
    assert response.status_code == 200, response.content
    assert response.json()["lead_professional"] == partner.pk


@pytest.mark.parametrize("persona", ["other_team_user", "unshared_partner", "admin_user"])
def test_lead_professional_from_outside_the_family_is_400(request, owner, family, practitioner, persona):
    outsider = request.getfixturevalue(persona)
    response = owner.put(f"/api/v1/families/{family.pk}/lead-professional/", {"user": outsider.pk}, format="json")
    assert response.status_code == 400
    assert "user" in response.json()
    family.refresh_from_db()
    assert family.lead_professional_id == practitioner.pk


def test_unknown_lead_professional_is_400(owner, family):
    response = owner.put(f"/api/v1/families/{family.pk}/lead-professional/", {"user": 999999}, format="json")
    assert response.status_code == 400
    assert "user" in response.json()


def test_lead_history_shows_the_previous_holder_with_an_end(owner, practitioner, teammate, manager):
    fid = owner.post("/api/v1/families/", {"name": "History family", "lead_professional": practitioner.pk}).json()["id"]
    assert owner.put(f"/api/v1/families/{fid}/lead-professional/", {"user": teammate.pk}).status_code == 200
    assert owner.put(f"/api/v1/families/{fid}/lead-professional/", {"user": manager.pk}).status_code == 200

    response = owner.get(f"/api/v1/families/{fid}/lead-professional/")
    assert response.status_code == 200
    history = response.json()
    rows = history["results"] if isinstance(history, dict) else history
    by_user = {row["user"]: row for row in rows}
    assert set(by_user) == {practitioner.pk, teammate.pk, manager.pk}
    assert by_user[practitioner.pk]["ended_at"] is not None
    assert by_user[teammate.pk]["ended_at"] is not None
    assert by_user[manager.pk]["ended_at"] is None
    assert by_user[teammate.pk]["started_at"] <= by_user[teammate.pk]["ended_at"]
    assert rows[0]["user"] == manager.pk  # newest first
    assert LeadProfessionalAssignment.objects.filter(family_id=fid, ended_at__isnull=True).count() == 1


def test_clearing_the_lead_professional_ends_the_current_assignment(owner, practitioner):
    fid = owner.post("/api/v1/families/", {"name": "Clear family", "lead_professional": practitioner.pk}).json()["id"]
    response = owner.put(f"/api/v1/families/{fid}/lead-professional/", {"user": None}, format="json")
    assert response.status_code == 200, response.content
    assert response.json()["lead_professional"] is None
    assert not LeadProfessionalAssignment.objects.filter(family_id=fid, ended_at__isnull=True).exists()


# --- information gaps --------------------------------------------------------------------------------


def test_record_and_resolve_an_information_gap(owner, family, mother):
    revisit = str(timezone.localdate() + dt.timedelta(days=14))
    response = owner.post(
        f"/api/v1/families/{family.pk}/gaps/",
        {
            "subject": "father",
            "reason": "declined",
            "member": mother.pk,
            "revisit_on": revisit,
            "note": "Mum did not want to say.",
        },
        format="json",
    )
    assert response.status_code == 201, response.content
    gap = response.json()
    assert (gap["subject"], gap["reason"], gap["revisit_on"], gap["member"]) == (
        "father",
        "declined",
        revisit,
        mother.pk,
    )
    assert gap["resolved_at"] is None
    listed = owner.get(f"/api/v1/families/{family.pk}/gaps/").json()["results"]
    assert [row["id"] for row in listed] == [gap["id"]]

    resolved = owner.post(f"/api/v1/families/{family.pk}/gaps/{gap['id']}/resolve/")
    assert resolved.status_code == 200, resolved.content
    assert resolved.json()["resolved_at"] is not None
    assert owner.get(f"/api/v1/families/{family.pk}/gaps/").json()["results"] == []
    with_resolved = owner.get(f"/api/v1/families/{family.pk}/gaps/", {"include_resolved": "true"}).json()
    assert [row["id"] for row in with_resolved["results"]] == [gap["id"]]


def test_bad_gap_reason_is_400(owner, family):
    response = owner.post(f"/api/v1/families/{family.pk}/gaps/", {"subject": "father", "reason": "forgot"})
    assert response.status_code == 400
    assert "reason" in response.json()
    assert not InformationGap.objects.exists()


def test_gap_about_a_member_of_another_family_is_400(owner, family, team):
    stranger = MemberFactory(family=FamilyFactory(team=team))
    response = owner.post(
        f"/api/v1/families/{family.pk}/gaps/",
        {"subject": "date_of_birth", "reason": "unknown", "member": stranger.pk},
        format="json",
    )
    assert response.status_code == 400
    assert "member" in response.json()


# --- relationships -----------------------------------------------------------------------------------


def test_record_a_parent_relationship(owner, family, father, child):
    response = owner.post(
        f"/api/v1/families/{family.pk}/relationships/",
        {"from_member": father.pk, "kind": "parent_of", "to_member": child.pk},
        format="json",
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert (body["from_member"], body["kind"], body["to_member"]) == (father.pk, "parent_of", child.pk)
    listed = owner.get(f"/api/v1/families/{family.pk}/relationships/").json()["results"]
    assert [row["id"] for row in listed] == [body["id"]]


def test_duplicate_relationship_is_400(owner, family, father, child):
    url = f"/api/v1/families/{family.pk}/relationships/"
    payload = {"from_member": father.pk, "kind": "parent_of", "to_member": child.pk}
    assert owner.post(url, payload, format="json").status_code == 201
    response = owner.post(url, payload, format="json")
    assert response.status_code == 400
    assert response.json()
    assert Relationship.objects.filter(family=family).count() == 1


def test_parent_of_an_adult_is_400(owner, family, father, mother):
    response = owner.post(
        f"/api/v1/families/{family.pk}/relationships/",
        {"from_member": father.pk, "kind": "parent_of", "to_member": mother.pk},
        format="json",
    )
    assert response.status_code == 400
    assert "to_member" in response.json()


def test_relationship_with_someone_from_another_family_is_400(owner, family, father, team):
    stranger = MemberFactory(family=FamilyFactory(team=team), role="child")
    response = owner.post(
        f"/api/v1/families/{family.pk}/relationships/",
        {"from_member": father.pk, "kind": "parent_of", "to_member": stranger.pk},
        format="json",
    )
    assert response.status_code == 400
    assert "to_member" in response.json()
    assert not Relationship.objects.exists()


def test_relationship_with_oneself_names_the_member_field(owner, family, mother):
    response = owner.post(
        f"/api/v1/families/{family.pk}/relationships/",
        {"from_member": mother.pk, "kind": "partner_of", "to_member": mother.pk},
        format="json",
    )
    assert response.status_code == 400
    assert {"from_member", "to_member"} & set(response.json()), response.json()


def test_relationship_with_oneself_is_400(owner, family, mother):
    response = owner.post(
        f"/api/v1/families/{family.pk}/relationships/",
        {"from_member": mother.pk, "kind": "partner_of", "to_member": mother.pk},
        format="json",
    )
    assert response.status_code == 400
    assert not Relationship.objects.exists()


def test_delete_a_relationship(owner, family, father, child):
    url = f"/api/v1/families/{family.pk}/relationships/"
    rel = owner.post(url, {"from_member": father.pk, "kind": "partner_of", "to_member": child.pk}).json()
    assert owner.delete(f"{url}{rel['id']}/").status_code == 204
    assert not Relationship.objects.exists()


# --- chronology ------------------------------------------------------------------------------------


def test_chronology_shows_every_agencys_records_newest_first(owner, family, child, share, partner, health_agency):
    partner_client = token_client(partner)
    response = partner_client.post(
        "/api/v1/visits/",
        {
            "family": family.pk,
            "planned": False,
            "scheduled_for": "2025-03-02T10:00:00Z",
            "status": "no_access",
        },
        format="json",
    )
    assert response.status_code == 201, response.content
    response = partner_client.post(
        "/api/v1/appointments/",
        {
            "member": child.pk,
            "kind": "immunisation",
            "scheduled_for": "2025-03-05T10:00:00Z",
            "status": "was_not_brought",
        },
        format="json",
    )
    assert response.status_code == 201, response.content
    owner.post("/api/v1/referrals/", referral(family, concerns=["neglect"], received_at="2025-03-01T09:00:00Z"))

    entries = owner.get(f"/api/v1/families/{family.pk}/chronology/").json()["results"]
    dated = [e for e in entries if e["kind"] in ("visit", "appointment", "referral")]
    assert [e["kind"] for e in dated] == ["appointment", "visit", "referral"]
    assert dated[0]["agency"] == health_agency.name
    assert "Was not brought".lower() in dated[0]["summary"].lower()
    assert dated[1]["agency"] == health_agency.name
    ats = [e["at"] for e in entries]
    assert ats == sorted(ats, reverse=True)


def test_chronology_filters_by_kind(owner, family, practitioner):
    VisitFactory(family=family, practitioner=practitioner)
    owner.post("/api/v1/referrals/", referral(family), format="json")
    entries = owner.get(f"/api/v1/families/{family.pk}/chronology/", {"kind": "visit"}).json()["results"]
    assert entries
    assert {e["kind"] for e in entries} == {"visit"}
    assert owner.get(f"/api/v1/families/{family.pk}/chronology/", {"kind": "gossip"}).status_code == 400


# --- bad query parameters ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        "/api/v1/families/",
        "/api/v1/members/",
        "/api/v1/referrals/",
        "/api/v1/visits/",
        "/api/v1/appointments/",
        "/api/v1/agencies/",
        "FAMILY/members/",
        "FAMILY/chronology/",
    ],
)
def test_bad_updated_since_is_400_naming_the_parameter(owner, family, url):
    url = url.replace("FAMILY", f"/api/v1/families/{family.pk}")
    response = owner.get(url, {"updated_since": "last tuesday"})
    assert response.status_code == 400
    assert "updated_since" in response.json()


@pytest.mark.parametrize("sub", ["shares", "gaps", "relationships"])
def test_bad_updated_since_on_family_sub_lists_is_400(owner, family, sub):
    response = owner.get(f"/api/v1/families/{family.pk}/{sub}/", {"updated_since": "last tuesday"})
    assert response.status_code == 400
