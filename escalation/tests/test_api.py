"""flags/ and escalations/ over the API: filters, decisions, invalid transitions, personas."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from escalation.models import EscalationPrompt, Flag, PromptStatus
from escalation.services.checks import run_checks_in_process
from visits.tests.factories import AppointmentFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def flagged(family, child, manager, health_agency, council):
    """Kai was not brought twice at two agencies: a high flag and a prompt to the team manager."""
    now = timezone.now()
    AppointmentFactory(
        member=child, status="was_not_brought", agency=health_agency, scheduled_for=now - dt.timedelta(days=3)
    )
    AppointmentFactory(member=child, status="was_not_brought", agency=council, scheduled_for=now - dt.timedelta(days=9))
    run_checks_in_process(rule_codes=["was_not_brought", "no_lead_professional"])
    return Flag.objects.get(rule="was_not_brought")


def test_flags_filters(api, practitioner, flagged, family):
    client = api.as_user(practitioner)
    body = client.get("/api/v1/flags/", {"family": family.pk, "rule": "was_not_brought", "status": "open"}).json()
    assert body["count"] == 1
    flag = body["results"][0]
    assert flag["severity"] == "high" and flag["member"] == flagged.member_id
    assert len(flag["evidence"]["appointments"]) == 2
    assert client.get("/api/v1/flags/", {"severity": "medium", "family": family.pk}).json()["count"] == 0
    assert client.get("/api/v1/flags/", {"rule": "nonsense"}).status_code == 400


def test_flag_visibility_by_persona(api, flagged, other_team_user, partner, unshared_partner, share):
    url = f"/api/v1/flags/{flagged.pk}/"
    assert api.as_user(partner).get(url).status_code == 200
    assert api.as_user(other_team_user).get(url).status_code == 404
    assert api.as_user(unshared_partner).get(url).status_code == 404
    assert api.as_user(unshared_partner).get("/api/v1/flags/").json()["count"] == 0


def test_manager_acknowledges_actions_and_the_history_records_it(api, manager, flagged):
    prompt = EscalationPrompt.objects.get(flag=flagged)
    assert prompt.level == "team_manager" and prompt.assigned_to == manager
    client = api.as_user(manager)
    url = f"/api/v1/escalations/{prompt.pk}/"
    assert client.post(url + "acknowledge/").json()["status"] == "acknowledged"
    response = client.post(
        url + "action/", {"action_taken": "Strategy discussion booked", "rationale": "Pattern across agencies"}
    )
    assert response.status_code == 200, response.json()
    body = response.json()
    assert body["status"] == "actioned" and body["action_taken"] == "Strategy discussion booked"
    assert [h["kind"] for h in body["history"]] == ["raised", "acknowledged", "actioned"]
    assert body["history"][-1]["actor"] == manager.pk


def test_action_needs_action_and_rationale(api, manager, flagged):
    prompt = EscalationPrompt.objects.get(flag=flagged)
    response = api.as_user(manager).post(f"/api/v1/escalations/{prompt.pk}/action/", {"action_taken": ""})
    assert response.status_code == 400
    assert set(response.json()) == {"action_taken", "rationale"}
    prompt.refresh_from_db()
    assert prompt.status == PromptStatus.OPEN


def test_actioning_a_closed_prompt_is_409_and_changes_nothing(api, manager, flagged):
    prompt = EscalationPrompt.objects.get(flag=flagged)
    client = api.as_user(manager)
    url = f"/api/v1/escalations/{prompt.pk}/"
    client.post(url + "action/", {"action_taken": "Visit", "rationale": "First miss"})
    response = client.post(url + "action/", {"action_taken": "Again", "rationale": "Again"})
    assert response.status_code == 409
    body = response.json()
    assert "already actioned" in body["detail"]
    # Both sides are kept: what is saved, and what this caller tried.
    assert body["current"]["action_taken"] == "Visit"
    assert body["attempted"] == {"status": "actioned", "action_taken": "Again", "rationale": "Again"}
    assert client.post(url + "acknowledge/").status_code == 409
    prompt.refresh_from_db()
    assert prompt.action_taken == "Visit" and prompt.events.count() == 2


def test_escalate_opens_the_next_level(api, manager, flagged):
    prompt = EscalationPrompt.objects.get(flag=flagged)
    client = api.as_user(manager)
    assert client.post(f"/api/v1/escalations/{prompt.pk}/escalate/", {}).status_code == 400
    response = client.post(f"/api/v1/escalations/{prompt.pk}/escalate/", {"reason": "Needs head of service view"})
    assert response.status_code == 201
    assert response.json()["level"] == "head_of_service"
    assert response.json()["escalated_from"] == prompt.pk
    old = client.get(f"/api/v1/escalations/{prompt.pk}/").json()
    assert old["status"] == "escalated" and old["escalated_to"] == response.json()["id"]


def test_partner_reads_but_cannot_act(api, partner, share, flagged):
    prompt = EscalationPrompt.objects.get(flag=flagged)
    client = api.as_user(partner)
    assert client.get(f"/api/v1/escalations/{prompt.pk}/").status_code == 200
    assert client.post(f"/api/v1/escalations/{prompt.pk}/acknowledge/").status_code == 403
    prompt.refresh_from_db()
    assert prompt.status == PromptStatus.OPEN


def test_other_team_gets_404(api, other_team_user, flagged):
    prompt = EscalationPrompt.objects.get(flag=flagged)
    assert api.as_user(other_team_user).post(f"/api/v1/escalations/{prompt.pk}/acknowledge/").status_code == 404


def test_escalation_filters(api, manager, flagged, practitioner):
    client = api.as_user(manager)
    assert client.get("/api/v1/escalations/", {"status": "open", "level": "team_manager"}).json()["count"] == 1
    assert client.get("/api/v1/escalations/", {"assigned_to": practitioner.pk}).json()["count"] == 0
    assert client.get("/api/v1/escalations/", {"rule": "was_not_brought", "severity": "high"}).json()["count"] == 1


def test_escalation_list_query_count_does_not_grow(api, manager, family, django_assert_max_num_queries):
    from cases.tests.factories import MemberFactory

    for i in range(6):
        kid = MemberFactory(family=family, role="child")
        for d in (2, 4):
            AppointmentFactory(
                member=kid, status="was_not_brought", scheduled_for=timezone.now() - dt.timedelta(days=d + i)
            )
    run_checks_in_process(rule_codes=["was_not_brought"])
    client = api.as_user(manager)
    # token, count, prompts (+flag, family, assignee, successor joined), events prefetch
    with django_assert_max_num_queries(5):
        assert client.get("/api/v1/escalations/").json()["count"] == 6


def test_chronology_shows_flags_and_decisions(api, manager, flagged, family):
    prompt = EscalationPrompt.objects.get(flag=flagged)
    client = api.as_user(manager)
    client.post(f"/api/v1/escalations/{prompt.pk}/action/", {"action_taken": "Called GP", "rationale": "Check health"})
    entries = client.get(f"/api/v1/families/{family.pk}/chronology/").json()["results"]
    summaries = " ".join(e["summary"] for e in entries)
    assert "Flag raised (high)" in summaries
    assert "Action: Called GP" in summaries
