"""Every read of a family's record writes a VIEW row (DESIGN 6): for each API endpoint and each
page that shows family data, with the actor, the model, the record ids, the family and the route.
A refused request (404) writes none; a change writes a CHANGE row in the service's transaction."""

from __future__ import annotations

import datetime as dt
from types import SimpleNamespace
from unittest import mock

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from accounts.tests.factories import api_token_for
from audit.models import AuditAction, AuditEvent, SecurityEvent
from cases.models import InformationGap, LeadProfessionalAssignment, Member, Relationship
from cases.tests.factories import MemberFactory
from escalation.models import EscalationPrompt, Flag
from referrals.tests.factories import ReferralFactory
from visits.models import Visit
from visits.tests.factories import AppointmentFactory, VisitFactory

pytestmark = pytest.mark.django_db


def token_client(user) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {api_token_for(user)}")
    client.raise_request_exception = False
    return client


def rows(**filters) -> list[AuditEvent]:
    return list(AuditEvent.objects.filter(**filters).order_by("id"))


@pytest.fixture
def record(family, child, mother, practitioner, manager, council, health_agency, share):
    """One of everything the family's record is made of."""
    relationship = Relationship.objects.create(family=family, from_member=mother, to_member=child, kind="parent_of")
    gap = InformationGap.objects.create(
        family=family, subject="father", reason="not_asked", revisit_on=timezone.localdate() + dt.timedelta(days=30)
    )
    lead = LeadProfessionalAssignment.objects.create(family=family, user=practitioner)
    referral = ReferralFactory(family=family)
    visit = VisitFactory(family=family, practitioner=practitioner)
    appointment = AppointmentFactory(member=child, agency=council)
    flag = Flag.objects.create(family=family, member=child, rule="was_not_brought", severity="high", detail="Missed")
    prompt = EscalationPrompt.objects.create(
        flag=flag,
        family=family,
        level="team_manager",
        assigned_to=manager,
        due=timezone.localdate() + dt.timedelta(days=5),
    )
    return SimpleNamespace(
        family=family,
        child=child,
        mother=mother,
        relationship=relationship,
        gap=gap,
        lead=lead,
        share=share,
        referral=referral,
        visit=visit,
        appointment=appointment,
        flag=flag,
        prompt=prompt,
    )


# (path with {placeholders} filled from `record`, the model label, the attributes of `record` read)
API_READS = [
    ("/api/v1/families/", "cases.family", ["family"]),
    ("/api/v1/families/{family}/", "cases.family", ["family"]),
    ("/api/v1/members/", "cases.member", ["child", "mother"]),
    ("/api/v1/members/{child}/", "cases.member", ["child"]),
    ("/api/v1/families/{family}/members/", "cases.member", ["child", "mother"]),
    ("/api/v1/families/{family}/members/{mother}/", "cases.member", ["mother"]),
    ("/api/v1/referrals/", "referrals.referral", ["referral"]),
    ("/api/v1/referrals/{referral}/", "referrals.referral", ["referral"]),
    ("/api/v1/visits/", "visits.visit", ["visit"]),
    ("/api/v1/visits/{visit}/", "visits.visit", ["visit"]),
    ("/api/v1/appointments/", "visits.appointment", ["appointment"]),
    ("/api/v1/appointments/{appointment}/", "visits.appointment", ["appointment"]),
    ("/api/v1/flags/", "escalation.flag", ["flag"]),
    ("/api/v1/flags/{flag}/", "escalation.flag", ["flag"]),
    ("/api/v1/escalations/", "escalation.escalationprompt", ["prompt"]),
    ("/api/v1/escalations/{prompt}/", "escalation.escalationprompt", ["prompt"]),
    ("/api/v1/families/{family}/chronology/", "cases.chronology", ["family"]),
    ("/api/v1/families/{family}/shares/", "cases.familyshare", ["share"]),
    ("/api/v1/families/{family}/shares/{share}/", "cases.familyshare", ["share"]),
    ("/api/v1/families/{family}/relationships/", "cases.relationship", ["relationship"]),
    ("/api/v1/families/{family}/relationships/{relationship}/", "cases.relationship", ["relationship"]),
    ("/api/v1/families/{family}/gaps/", "cases.informationgap", ["gap"]),
    ("/api/v1/families/{family}/gaps/{gap}/", "cases.informationgap", ["gap"]),
    ("/api/v1/families/{family}/lead-professional/", "cases.leadprofessionalassignment", ["lead"]),
]


def _ids(record) -> dict[str, int]:
    return {name: obj.pk for name, obj in vars(record).items()}


@pytest.mark.parametrize(("template", "model", "objects"), API_READS, ids=[t for t, _, _ in API_READS])
def test_every_api_read_of_the_record_writes_one_view_row_per_record(record, practitioner, template, model, objects):
    path = template.format(**_ids(record))
    before = AuditEvent.objects.count()

    response = token_client(practitioner).get(path)

    assert response.status_code == 200, response.content
    written = rows(route=f"GET {path}")
    assert AuditEvent.objects.count() - before == len(written) == len(objects)
    assert {e.object_id for e in written} == {str(getattr(record, name).pk) for name in objects}
    for event in written:
        assert event.action == AuditAction.VIEW
        assert event.actor_id == practitioner.pk
        assert event.model == model
        assert event.family_id == record.family.pk
        assert event.changes == {}


def test_a_partner_reading_through_its_token_is_logged_as_the_partner(record, partner):
    path = f"/api/v1/families/{record.family.pk}/members/"
    response = token_client(partner).get(path)
    assert response.status_code == 200
    written = rows(route=f"GET {path}")
    assert [(e.actor_id, e.model, e.family_id) for e in written] == [(partner.pk, "cases.member", record.family.pk)] * 2


def test_a_list_logs_only_the_records_on_the_page_it_returns(family, practitioner):
    members = [MemberFactory(family=family) for _ in range(5)]
    response = token_client(practitioner).get("/api/v1/members/", {"page_size": 2, "page": 2})
    assert response.status_code == 200
    returned = [m["id"] for m in response.json()["results"]]
    assert returned == [members[2].pk, members[3].pk]
    written = rows(route="GET /api/v1/members/")  # the query string is never part of the route
    assert [int(e.object_id) for e in written] == returned


def test_an_empty_list_writes_nothing(practitioner, family):
    response = token_client(practitioner).get("/api/v1/visits/")
    assert response.status_code == 200
    assert response.json()["count"] == 0
    assert not AuditEvent.objects.exists()


def test_a_list_filtered_to_someone_elses_family_writes_nothing(record, other_team_user):
    response = token_client(other_team_user).get("/api/v1/members/", {"family": record.family.pk})
    assert response.status_code == 200
    assert response.json()["results"] == []
    assert not AuditEvent.objects.exists()


# --- refused reads write no audit row ------------------------------------------------------------

REFUSED_API = [
    ("other_team_user", "/api/v1/families/{family}/"),
    ("other_team_user", "/api/v1/members/{child}/"),
    ("other_team_user", "/api/v1/families/{family}/members/"),
    ("other_team_user", "/api/v1/families/{family}/chronology/"),
    ("other_team_user", "/api/v1/visits/{visit}/"),
    ("unshared_partner", "/api/v1/families/{family}/"),
    ("unshared_partner", "/api/v1/families/{family}/members/"),
    ("unshared_partner", "/api/v1/families/{family}/members/{child}/"),
    ("unshared_partner", "/api/v1/families/{family}/lead-professional/"),
    ("unshared_partner", "/api/v1/families/{family}/gaps/"),
    ("unshared_partner", "/api/v1/referrals/{referral}/"),
    ("unshared_partner", "/api/v1/escalations/{prompt}/"),
    ("practitioner", "/api/v1/families/999999/"),
    ("practitioner", "/api/v1/members/999999/"),
    ("practitioner", "/api/v1/families/999999/members/"),
    ("practitioner", "/api/v1/families/{family}/members/999999/"),
]


@pytest.mark.parametrize(("persona", "template"), REFUSED_API, ids=[f"{p}:{t}" for p, t in REFUSED_API])
def test_a_404_writes_no_audit_row(request, record, persona, template):
    user = request.getfixturevalue(persona)
    path = template.format(**_ids(record))
    response = token_client(user).get(path)
    assert response.status_code == 404
    assert not AuditEvent.objects.exists()
    # The security log has the refusal instead.
    refused = SecurityEvent.objects.get(kind="refused", route=f"GET {path}")
    assert (refused.user_id, refused.status_code) == (user.pk, 404)


@pytest.mark.parametrize("persona", ["other_team_user", "unshared_partner"])
def test_a_refused_page_writes_no_audit_row(client, request, record, persona):
    client.force_login(request.getfixturevalue(persona))
    family = record.family
    for url in (
        f"/families/{family.pk}/",
        f"/families/{family.pk}/members/{record.child.pk}/",
        f"/families/{family.pk}/visits/{record.visit.pk}/",
        f"/prompts/{record.prompt.pk}/",
    ):
        assert client.get(url).status_code == 404, url
    assert client.get("/families/999999/").status_code == 404
    assert not AuditEvent.objects.exists()


# --- pages -------------------------------------------------------------------------------------


def test_the_family_page_writes_a_view_row(client, record, practitioner):
    client.force_login(practitioner)
    url = f"/families/{record.family.pk}/"
    assert client.get(url).status_code == 200
    written = rows(route=f"GET {url}")
    assert [(e.action, e.actor_id, e.model, e.object_id, e.family_id) for e in written] == [
        ("view", practitioner.pk, "cases.family", str(record.family.pk), record.family.pk)
    ]


def test_the_family_pages_chronology_partial_writes_a_view_row(client, record, practitioner):
    client.force_login(practitioner)
    url = f"/families/{record.family.pk}/"
    response = client.get(url, {"kind": "visit"}, HTTP_HX_REQUEST="true", HTTP_HX_TARGET="chronology-list")
    assert response.status_code == 200
    assert [(e.model, e.object_id) for e in rows(route=f"GET {url}")] == [("cases.chronology", str(record.family.pk))]


@pytest.mark.parametrize(
    ("template", "model", "obj"),
    [
        ("/families/{family}/members/{child}/", "cases.member", "child"),
        ("/families/{family}/visits/{visit}/", "visits.visit", "visit"),
        ("/families/{family}/appointments/{appointment}/", "visits.appointment", "appointment"),
    ],
)
def test_opening_an_edit_form_writes_a_view_row(client, record, practitioner, template, model, obj):
    client.force_login(practitioner)
    url = template.format(**_ids(record))
    assert client.get(url).status_code == 200
    written = rows(route=f"GET {url}")
    assert [(e.action, e.actor_id, e.model, e.object_id, e.family_id) for e in written] == [
        ("view", practitioner.pk, model, str(getattr(record, obj).pk), record.family.pk)
    ]


def test_the_prompt_page_writes_a_view_row(client, record, manager):
    client.force_login(manager)
    url = f"/prompts/{record.prompt.pk}/"
    assert client.get(url).status_code == 200
    written = rows(route=f"GET {url}")
    assert [(e.actor_id, e.model, e.object_id, e.family_id) for e in written] == [
        (manager.pk, "escalation.escalationprompt", str(record.prompt.pk), record.family.pk)
    ]


def test_the_caseload_writes_a_view_row_per_family_listed(client, record, practitioner, team):
    from cases.tests.factories import FamilyFactory

    second = FamilyFactory(team=team, name="Jones family")
    client.force_login(practitioner)
    assert client.get("/").status_code == 200
    written = rows(route="GET /")
    assert {(e.model, e.object_id, e.family_id) for e in written} == {
        ("cases.family", str(record.family.pk), record.family.pk),
        ("cases.family", str(second.pk), second.pk),
    }
    assert {e.actor_id for e in written} == {practitioner.pk}
    assert len(written) == 2


def test_the_dashboard_writes_a_view_row_per_prompt_listed(client, record, manager):
    client.force_login(manager)
    assert client.get("/dashboard/").status_code == 200
    written = rows(route="GET /dashboard/")
    assert [(e.action, e.actor_id, e.model, e.object_id, e.family_id) for e in written] == [
        ("view", manager.pk, "escalation.escalationprompt", str(record.prompt.pk), record.family.pk)
    ]


def test_a_search_writes_a_view_row_per_person_found_and_keeps_the_name_out_of_the_route(client, record, practitioner):
    client.force_login(practitioner)
    response = client.post("/search/", {"q": "Smith"})
    assert response.status_code == 200
    written = rows(route="POST /search/")
    assert {(e.model, e.object_id, e.family_id) for e in written} >= {
        ("cases.member", str(record.child.pk), record.family.pk),
        ("cases.member", str(record.mother.pk), record.family.pk),
    }
    assert {e.action for e in written} == {"view"}
    assert not AuditEvent.objects.filter(route__icontains="smith").exists()


def test_a_search_that_finds_nobody_writes_nothing(client, record, practitioner):
    client.force_login(practitioner)
    assert client.post("/search/", {"q": "Zzyzx Qwerty"}).status_code == 200
    assert not AuditEvent.objects.exists()


def test_the_csv_export_writes_an_export_row_per_prompt(client, record, manager, child, council):
    second_flag = Flag.objects.create(
        family=record.family, rule="no_lead_professional", severity="medium", detail="No lead"
    )
    second = EscalationPrompt.objects.create(
        flag=second_flag,
        family=record.family,
        level="team_manager",
        assigned_to=manager,
        due=timezone.localdate() + dt.timedelta(days=5),
    )
    client.force_login(manager)
    response = client.get("/dashboard/export.csv")
    assert response.status_code == 200
    b"".join(response.streaming_content)
    exports = rows(action="export", model="escalation.escalationprompt")
    assert {(e.object_id, e.family_id, e.actor_id) for e in exports} == {
        (str(record.prompt.pk), record.family.pk, manager.pk),
        (str(second.pk), record.family.pk, manager.pk),
    }
    assert {e.route for e in exports} == {"GET /dashboard/export.csv"}
    # And the export itself, with its filters, once.
    assert AuditEvent.objects.filter(action="export", model="cases.user", object_id=str(manager.pk)).count() == 1


# --- changes --------------------------------------------------------------------------------------


def test_an_api_change_writes_a_change_row_with_the_previous_and_new_value(record, practitioner):
    path = f"/api/v1/members/{record.child.pk}/"
    response = token_client(practitioner).patch(path, {"given_name": "Kye", "school": "Oak Primary"}, format="json")
    assert response.status_code == 200, response.content
    (event,) = rows(action="change")
    assert (event.actor_id, event.model, event.object_id, event.family_id, event.route) == (
        practitioner.pk,
        "cases.member",
        str(record.child.pk),
        record.family.pk,
        f"PATCH {path}",
    )
    assert event.changes["given_name"] == {"from": "Kai", "to": "Kye"}
    assert event.changes["school"] == {"from": "", "to": "Oak Primary"}


def test_a_change_that_sets_nothing_new_writes_no_change_row(record, practitioner):
    response = token_client(practitioner).patch(
        f"/api/v1/members/{record.child.pk}/", {"given_name": "Kai"}, format="json"
    )
    assert response.status_code == 200
    assert not AuditEvent.objects.filter(action="change").exists()


def test_a_change_the_service_refuses_leaves_no_audit_row_and_no_change(record, practitioner):
    """member_update saves (and audits) the role first, then refuses it because the child has a
    'was not brought' appointment: the whole transaction, audit row included, rolls back."""
    AppointmentFactory(member=record.child, agency=record.family.team.agency, status="was_not_brought")
    response = token_client(practitioner).patch(
        f"/api/v1/members/{record.child.pk}/", {"role": "mother", "given_name": "Jade"}, format="json"
    )
    assert response.status_code == 400, response.content
    assert "role" in response.json()
    child = Member.objects.get(pk=record.child.pk)
    assert (child.role, child.given_name, child.version) == ("child", "Kai", 1)
    assert not AuditEvent.objects.filter(action="change").exists()
    assert child.history.count() == 1


def test_a_change_whose_audit_row_cannot_be_written_is_not_saved(record, practitioner):
    client = token_client(practitioner)
    with mock.patch("cases.service_utils.audit_record", side_effect=RuntimeError("audit down")):
        response = client.patch(f"/api/v1/members/{record.child.pk}/", {"given_name": "Kye"}, format="json")
    assert response.status_code == 500
    child = Member.objects.get(pk=record.child.pk)
    assert (child.given_name, child.version) == ("Kai", 1)


def _visit_form(**overrides) -> dict:
    day = timezone.localdate() - dt.timedelta(days=3)
    data = {
        "version": "1",
        "planned": "yes",
        "purpose": "Review the safety plan with mum",
        "expected_outcome": "Safety plan agreed and signed",
        "date_day": str(day.day),
        "date_month": str(day.month),
        "date_year": str(day.year),
        "time": "14:30",
        "status": "completed",
        "outcome": "Plan agreed",
        "next_steps": "",
        "voice_of_child": "",
        "home_conditions": "",
    }
    data.update(overrides)
    return data


def test_a_visit_changed_through_the_page_writes_a_change_row(client, record, practitioner):
    visit = record.visit
    Visit.objects.filter(pk=visit.pk).update(outcome="Plan agreed")
    client.force_login(practitioner)
    url = f"/families/{record.family.pk}/visits/{visit.pk}/"
    response = client.post(url, _visit_form(outcome="Nobody answered", status="no_access"))
    assert response.status_code == 302, response.content.decode()[:2000]
    (event,) = rows(action="change")
    assert (event.actor_id, event.model, event.object_id, event.family_id, event.route) == (
        practitioner.pk,
        "visits.visit",
        str(visit.pk),
        record.family.pk,
        f"POST {url}",
    )
    assert event.changes["outcome"] == {"from": "Plan agreed", "to": "Nobody answered"}
    assert event.changes["status"] == {"from": "completed", "to": "no_access"}
    visit.refresh_from_db()
    assert (visit.outcome, visit.version) == ("Nobody answered", 2)


def test_a_visit_change_refused_by_validation_writes_nothing(client, record, practitioner):
    client.force_login(practitioner)
    url = f"/families/{record.family.pk}/visits/{record.visit.pk}/"
    response = client.post(url, _visit_form(purpose="", outcome="Changed"))
    assert response.status_code == 200
    assert not AuditEvent.objects.filter(action="change").exists()
    visit = Visit.objects.get(pk=record.visit.pk)
    assert (visit.purpose, visit.version) == ("Review the safety plan with mum", 1)


def test_a_change_to_the_confidential_referrer_is_audited_without_its_value(record, practitioner):
    path = f"/api/v1/referrals/{record.referral.pk}/"
    response = token_client(practitioner).patch(
        path, {"referrer_name": "Someone Else Secret", "summary": "New summary"}, format="json"
    )
    assert response.status_code == 200, response.content
    (event,) = rows(action="change")
    assert event.changes["referrer_name"] == {"from": "[confidential]", "to": "[confidential]"}
    assert event.changes["summary"]["to"] == "New summary"
    logged = str(event.changes)
    assert "Someone Else Secret" not in logged
    assert "Pat Neighbour" not in logged


def test_a_stale_referral_change_keeps_the_confidential_referrer_out_of_the_409(record, practitioner, teammate):
    path = f"/api/v1/referrals/{record.referral.pk}/"
    assert token_client(practitioner).patch(path, {"summary": "First"}, format="json").status_code == 200
    response = token_client(teammate).patch(
        path, {"summary": "Second", "referrer_name": "Typed Secret"}, format="json", HTTP_IF_MATCH='"1"'
    )
    assert response.status_code == 409
    text = response.content.decode()
    assert "Typed Secret" not in text
    assert "Pat Neighbour" not in text
    assert response.json()["current"]["summary"] == "First"


def test_a_search_is_not_run_from_the_url(client, record, practitioner):
    """The name travels in a POST body: a GET with ?q= neither searches nor logs anything."""
    client.force_login(practitioner)
    response = client.get("/search/", {"q": "Smith"})
    assert response.status_code == 200
    assert str(record.child.pk) not in [e.object_id for e in AuditEvent.objects.all()]
    assert not AuditEvent.objects.exists()


def test_a_search_through_htmx_logs_the_people_found(client, record, practitioner):
    client.force_login(practitioner)
    response = client.post("/search/", {"q": "Smith"}, HTTP_HX_REQUEST="true")
    assert response.status_code == 200
    assert {e.object_id for e in rows(route="POST /search/")} >= {str(record.child.pk), str(record.mother.pk)}


# --- reads that slip past the log ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("template", "model", "obj"),
    [
        ("/api/v1/members/{child}/", "cases.member", "child"),
        ("/api/v1/families/{family}/", "cases.family", "family"),
        ("/api/v1/visits/{visit}/", "visits.visit", "visit"),
    ],
)
def test_a_write_that_changes_nothing_still_logs_the_record_it_returns(record, practitioner, template, model, obj):
    path = template.format(**_ids(record))
    response = token_client(practitioner).patch(path, {}, format="json")
    assert response.status_code == 200
    assert response.json()["id"] == getattr(record, obj).pk  # the whole record came back
    assert AuditEvent.objects.filter(
        actor=practitioner, model=model, object_id=str(getattr(record, obj).pk), family_id=record.family.pk
    ).exists()


def test_opening_the_significant_adults_form_writes_a_view_row(client, record, practitioner):
    from cases.models import Family

    Family.objects.filter(pk=record.family.pk).update(significant_adults_note="Mum's new partner, Dave, stays over")
    client.force_login(practitioner)
    url = f"/families/{record.family.pk}/significant-adults/"
    response = client.get(url)
    assert response.status_code == 200
    assert "Dave" in response.content.decode()
    assert [(e.model, e.object_id) for e in rows(route=f"GET {url}")] == [("cases.family", str(record.family.pk))]
