"""Who decides a prompt (issue 14, item 4): its assignee, or someone above them in the chain
(lead professional → team manager → head of service → safeguarding partnership). Anyone else who
can see the family gets 403 with a plain message naming who can decide; outsiders still get 404.
The same rule in the services, the API and the browser."""

from __future__ import annotations

import datetime as dt

import pytest
from django.urls import reverse
from django.utils import timezone
from rest_framework.test import APIClient

from cases.models import Role
from cases.tests.factories import TeamFactory, UserFactory
from escalation.models import EscalationPrompt, PromptLevel, PromptStatus
from escalation.permissions import may_decide_prompt
from escalation.services.checks import run_checks_in_process
from visits.tests.factories import AppointmentFactory

pytestmark = pytest.mark.django_db

ACTION = {"action_taken": "Phoned the GP", "rationale": "Two missed appointments"}


@pytest.fixture
def head_of_service(council):
    user = UserFactory(
        username="hos",
        first_name="Helen",
        last_name="Oduya",
        team=TeamFactory(agency=council, name="Senior Leadership"),
        agency=council,
        role=Role.MANAGER,
    )
    council.head_of_service = user
    council.save()
    return user


@pytest.fixture
def partnership_lead(council):
    user = UserFactory(
        username="lscp", team=TeamFactory(agency=council, name="Partnership"), agency=council, role=Role.MANAGER
    )
    council.partnership_lead = user
    council.save()
    return user


@pytest.fixture
def mandy(manager):
    manager.first_name, manager.last_name = "Mandy", "Jones"
    manager.save()
    return manager


@pytest.fixture
def high_prompt(family, child, mandy, practitioner, health_agency, council):
    """Kai was not brought twice, at two agencies: a high flag, so a prompt to the team manager."""
    now = timezone.now()
    AppointmentFactory(
        member=child, status="was_not_brought", agency=health_agency, scheduled_for=now - dt.timedelta(days=3)
    )
    AppointmentFactory(member=child, status="was_not_brought", agency=council, scheduled_for=now - dt.timedelta(days=9))
    run_checks_in_process(rule_codes=["was_not_brought"])
    prompt = EscalationPrompt.objects.get()
    assert prompt.level == PromptLevel.TEAM_MANAGER and prompt.assigned_to == mandy
    return prompt


@pytest.fixture
def lead_prompt(high_prompt, practitioner):
    """The same prompt as if routed to the lead professional, Alice."""
    EscalationPrompt.objects.filter(pk=high_prompt.pk).update(
        level=PromptLevel.LEAD_PROFESSIONAL, assigned_to=practitioner
    )
    return EscalationPrompt.objects.get(pk=high_prompt.pk)


def _api(api, user, prompt, what, data=None):
    # Authenticated directly: who decides does not depend on how the caller signed in.
    client = APIClient()
    client.force_authenticate(user)
    return client.post(f"/api/v1/escalations/{prompt.pk}/{what}/", data or {}, format="json")


def _page(prompt, what: str = "") -> str:
    return reverse("prompt-detail", args=[prompt.pk]) + (f"{what}/" if what else "")


def _unchanged(prompt):
    prompt.refresh_from_db()
    assert prompt.status == PromptStatus.OPEN and prompt.action_taken == ""
    assert EscalationPrompt.objects.count() == 1
    assert prompt.events.count() == 1


MESSAGE = "Only the team manager, Mandy Jones, or someone above them can decide this prompt."


# --- the API ------------------------------------------------------------------------------------


@pytest.mark.parametrize("persona", ["practitioner", "teammate", "partner", "admin_user"])
def test_below_the_assignee_the_api_refuses_every_decision_with_403_and_says_who_decides(
    api, request, high_prompt, share, persona
):
    user = request.getfixturevalue(persona)
    for what, data in (("acknowledge", None), ("action", ACTION), ("escalate", {"reason": "Worried"})):
        response = _api(api, user, high_prompt, what, data)
        assert response.status_code == 403, (what, response.content)
        assert response.json()["detail"] == MESSAGE
    _unchanged(high_prompt)


@pytest.mark.parametrize("persona", ["mandy", "head_of_service", "partnership_lead"])
def test_the_assignee_and_those_above_them_decide_in_the_api(api, request, high_prompt, persona):
    user = request.getfixturevalue(persona)
    assert _api(api, user, high_prompt, "acknowledge").status_code == 200
    assert _api(api, user, high_prompt, "action", ACTION).status_code == 200
    high_prompt.refresh_from_db()
    assert high_prompt.status == PromptStatus.ACTIONED
    assert high_prompt.events.get(kind="actioned").actor == user


def test_an_outsider_still_gets_404(api, high_prompt, other_team_user, unshared_partner):
    for user in (other_team_user, unshared_partner):
        assert _api(api, user, high_prompt, "acknowledge").status_code == 404
        assert _api(api, user, high_prompt, "action", ACTION).status_code == 404
    _unchanged(high_prompt)


def test_a_lead_professionals_prompt_is_decided_by_them_or_a_manager_not_a_teammate(
    api, lead_prompt, practitioner, teammate, mandy, partner, share
):
    assert _api(api, teammate, lead_prompt, "acknowledge").json()["detail"] == (
        f"Only the lead professional, {practitioner.get_full_name()}, or someone above them can decide this prompt."
    )
    assert _api(api, partner, lead_prompt, "acknowledge").status_code == 403
    assert may_decide_prompt(mandy, lead_prompt)
    assert _api(api, practitioner, lead_prompt, "acknowledge").status_code == 200


def test_a_partner_who_is_the_assignee_decides(api, lead_prompt, partner, share):
    EscalationPrompt.objects.filter(pk=lead_prompt.pk).update(assigned_to=partner)
    assert _api(api, partner, lead_prompt, "action", ACTION).status_code == 200


def test_the_team_manager_cannot_decide_what_was_escalated_above_them(
    api, high_prompt, mandy, head_of_service, partnership_lead
):
    body = _api(api, mandy, high_prompt, "escalate", {"reason": "Senior decision"}).json()
    successor = EscalationPrompt.objects.get(pk=body["id"])
    assert successor.assigned_to == head_of_service

    response = _api(api, mandy, successor, "acknowledge")
    assert response.status_code == 403
    assert response.json()["detail"] == (
        "Only the head of service, Helen Oduya, or someone above them can decide this prompt."
    )
    assert may_decide_prompt(partnership_lead, successor)
    assert _api(api, head_of_service, successor, "acknowledge").status_code == 200


def test_an_unassigned_prompt_is_decided_by_whoever_holds_its_level_or_above(api, high_prompt, mandy, teammate):
    EscalationPrompt.objects.filter(pk=high_prompt.pk).update(assigned_to=None)
    high_prompt.refresh_from_db()
    response = _api(api, teammate, high_prompt, "acknowledge")
    assert response.status_code == 403
    assert response.json()["detail"] == "Only the team manager or someone above them can decide this prompt."
    assert _api(api, mandy, high_prompt, "acknowledge").status_code == 200


def test_another_manager_of_another_team_cannot_decide(api, high_prompt, council):
    # Not visible to a manager of another team: 404, as before.
    other = UserFactory(team=TeamFactory(agency=council, name="Other"), agency=council, role=Role.MANAGER)
    assert _api(api, other, high_prompt, "acknowledge").status_code == 404


# --- the browser --------------------------------------------------------------------------------


@pytest.mark.parametrize("persona", ["practitioner", "teammate", "partner", "admin_user"])
def test_below_the_assignee_the_page_has_no_decision_forms_and_says_who_decides(
    client, request, high_prompt, share, persona
):
    client.force_login(request.getfixturevalue(persona))
    response = client.get(_page(high_prompt))
    assert response.status_code == 200
    html = response.content.decode()
    assert ">Decide</h2>" not in html
    for what in ("acknowledge", "action", "escalate"):
        assert f'action="{_page(high_prompt, what)}"' not in html
    assert MESSAGE in html


@pytest.mark.parametrize("persona", ["practitioner", "teammate", "partner", "admin_user"])
def test_below_the_assignee_a_posted_decision_is_refused_with_403_and_a_plain_message(
    client, request, high_prompt, share, persona
):
    client.force_login(request.getfixturevalue(persona))
    for what, data in (("acknowledge", {}), ("action", ACTION), ("escalate", {"reason": "Worried"})):
        response = client.post(_page(high_prompt, what), data)
        assert response.status_code == 403, what
        assert MESSAGE in response.content.decode()
    _unchanged(high_prompt)


@pytest.mark.parametrize("persona", ["mandy", "head_of_service"])
def test_the_assignee_and_those_above_them_see_and_use_the_decision_forms(client, request, high_prompt, persona):
    user = request.getfixturevalue(persona)
    client.force_login(user)
    html = client.get(_page(high_prompt)).content.decode()
    assert ">Decide</h2>" in html
    assert f'action="{_page(high_prompt, "action")}"' in html
    assert client.post(_page(high_prompt, "action"), ACTION).status_code == 302
    high_prompt.refresh_from_db()
    assert high_prompt.status == PromptStatus.ACTIONED


def test_an_outsider_still_gets_404_in_the_browser(client, high_prompt, other_team_user):
    client.force_login(other_team_user)
    assert client.get(_page(high_prompt)).status_code == 404
    assert client.post(_page(high_prompt, "action"), ACTION).status_code == 404
    _unchanged(high_prompt)


def test_someone_who_may_not_decide_is_refused_before_their_form_is_read(api, client, high_prompt, teammate):
    """A refusal, not a list of field errors: there is nothing for them to correct."""
    for what in ("action", "escalate"):
        response = _api(api, teammate, high_prompt, what, {})
        assert response.status_code == 403, (what, response.content)
        assert response.json()["detail"] == MESSAGE
    client.force_login(teammate)
    for what in ("action", "escalate"):
        response = client.post(_page(high_prompt, what), {})
        assert response.status_code == 403
        assert MESSAGE in response.content.decode()
    _unchanged(high_prompt)
