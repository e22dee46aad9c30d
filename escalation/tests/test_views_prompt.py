"""The prompt page (HTML): the flag's explanation and linked evidence, the team around the family,
the history, and the decisions (acknowledge, action, escalate) through the same services as the
API, each recorded with who and when; invalid transitions and who may act."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone
from django.utils.html import escape

from audit.models import AuditEvent
from cases.models import Role
from cases.tests.factories import TeamFactory, UserFactory
from escalation.models import EscalationPrompt, Flag, PromptEvent, PromptStatus
from escalation.services.checks import run_checks_in_process
from escalation.tests.test_views_dashboard import make_prompt
from visits.tests.factories import AppointmentFactory, VisitFactory

pytestmark = pytest.mark.django_db

ACTION = {"action_taken": "Strategy discussion booked with health", "rationale": "Missed care across two agencies"}


def _url(prompt, what: str = "") -> str:
    return reverse(f"prompt-{what}" if what else "prompt-detail", args=[prompt.pk])


def _html(response) -> str:
    return response.content.decode()


def _listed(response) -> list[int]:
    return [int(pk) for pk in re.findall(r'<a class="govuk-link" href="/prompts/(\d+)/">', _html(response))]


@pytest.fixture
def wnb_prompt(family, child, manager, practitioner, health_agency, council):
    """Kai was not brought twice, at two agencies: a high flag and a prompt to the team manager."""
    now = timezone.now()
    AppointmentFactory(
        member=child, status="was_not_brought", agency=health_agency, scheduled_for=now - dt.timedelta(days=3)
    )
    AppointmentFactory(member=child, status="was_not_brought", agency=council, scheduled_for=now - dt.timedelta(days=9))
    run_checks_in_process(rule_codes=["was_not_brought"])
    return EscalationPrompt.objects.get(flag__rule="was_not_brought")


@pytest.fixture
def engagement_prompt(family, manager, practitioner):
    """Three planned visits in a row found nobody home: a high engagement-decline flag."""
    now = timezone.now()
    for days in (5, 12, 19):
        VisitFactory(
            family=family, status="no_access", practitioner=practitioner, scheduled_for=now - dt.timedelta(days=days)
        )
    run_checks_in_process(rule_codes=["engagement_decline"])
    return EscalationPrompt.objects.get(flag__rule="engagement_decline")


@pytest.fixture
def south_manager(council):
    south = TeamFactory(agency=council, name="Assessment Team South")
    return UserFactory(
        username="sam", first_name="Sam", last_name="South", team=south, agency=council, role=Role.MANAGER
    )


# --- what the page shows -----------------------------------------------------------------------


def test_prompt_page_explains_the_flag_and_links_its_evidence(client, manager, wnb_prompt, family, health_agency):
    client.force_login(manager)
    response = client.get(_url(wnb_prompt))
    assert response.status_code == 200
    html = _html(response)
    flag = wnb_prompt.flag
    assert "<title>Was not brought – Smith family – Safeguarding case record</title>" in html
    assert re.search(
        r'<h1 class="govuk-heading-l">\s*<strong class="govuk-tag govuk-tag--red">High</strong>\s*Was not brought', html
    )
    assert f'href="{reverse("family-detail", args=[family.pk])}">Smith family</a> · {family.reference}' in html
    assert f'<div class="govuk-inset-text">{escape(flag.detail)}</div>' in html
    assert "Kai Smith was not brought to 2 appointments" in flag.detail
    appointments = flag.evidence["appointments"]
    assert len(appointments) == 2
    for a in appointments:
        assert f'href="{reverse("appointment-edit", args=[family.pk, a["appointment"]])}"' in html
    assert f"with {health_agency.name}</a>" in html
    assert f"Team manager: {escape(manager.get_full_name())}" in html
    assert wnb_prompt.due.strftime("%A") in html  # the due date, written out
    assert 'href="/dashboard/" class="govuk-back-link"' in html


def test_engagement_evidence_links_to_the_visits(client, manager, engagement_prompt, family):
    client.force_login(manager)
    html = _html(client.get(_url(engagement_prompt)))
    records = engagement_prompt.flag.evidence["records"]
    assert len(records) == 3
    for r in records:
        assert f'href="{reverse("visit-edit", args=[family.pk, r["visit"]])}"' in html
    assert html.count("— no access</li>") == 3


def test_team_around_the_family(client, manager, practitioner, wnb_prompt, council, health_agency, share, team):
    client.force_login(manager)
    html = _html(client.get(_url(wnb_prompt)))
    section = html.split("Team around the family", 1)[1].split("<h2", 1)[0]
    assert escape(council.name) in section and f"owning team: {team.name}" in section
    assert f"{escape(practitioner.get_full_name())} (lead professional)" in section
    assert health_agency.name in section
    assert "appointments" in section and "record shared" in section


def test_history_shows_who_did_what_and_when(client, manager, wnb_prompt):
    client.force_login(manager)
    html = _html(client.get(_url(wnb_prompt)))
    history = html.split(">History</h2>", 1)[1]
    assert "Raised by the system" in history
    assert "High severity: to the team manager." in history
    client.post(_url(wnb_prompt, "acknowledge"))
    client.post(_url(wnb_prompt, "action"), ACTION)
    history = _html(client.get(_url(wnb_prompt))).split(">History</h2>", 1)[1]
    assert f"Acknowledged by {escape(manager.get_full_name())}" in history
    assert f"Actioned by {escape(manager.get_full_name())}" in history
    assert f"Action: {ACTION['action_taken']}" in history
    assert f"Rationale: {ACTION['rationale']}" in history
    assert history.index("Raised") < history.index("Acknowledged by") < history.index("Actioned by")
    stamp = timezone.localtime(wnb_prompt.events.get(kind="actioned").at).strftime("%H:%M")
    assert stamp in history


def test_overdue_prompt_is_marked_on_its_page(client, manager, team):
    prompt = make_prompt(team=team, severity="high", due_in=-3, assigned_to=manager)
    client.force_login(manager)
    html = _html(client.get(_url(prompt)))
    assert 'Open <strong class="govuk-tag govuk-tag--red">Overdue</strong>' in html
    actioned = make_prompt(team=team, due_in=-3, status="actioned")
    html = _html(client.get(_url(actioned)))
    assert "Overdue</strong>" not in html
    assert "Called the health visitor" in html and "Seen at clinic" in html  # the decision is shown


def test_the_prompt_page_does_not_show_the_confidential_referrer_in_its_evidence(client, manager, wnb_prompt, family):
    from referrals.models import Referral

    Referral.objects.create(
        family=family, source="public", referrer_name="Maureen Whistleblower", summary="Worried", concerns=["neglect"]
    )
    client.force_login(manager)
    assert "Whistleblower" not in _html(client.get(_url(wnb_prompt)))


def test_prompt_page_queries_do_not_grow_with_history_or_evidence(client, manager, team, family):
    few = make_prompt(team=team, assigned_to=manager)
    many = make_prompt(
        family=family,
        severity="high",
        assigned_to=manager,
        evidence={
            "appointments": [
                {
                    "appointment": 1000 + i,
                    "date": "2025-01-01",
                    "kind": "health_review",
                    "agency": "GP",
                    "critical": False,
                }
                for i in range(12)
            ]
        },
    )
    for _ in range(10):
        PromptEvent.objects.create(prompt=many, kind="acknowledged", actor=manager, to_status="acknowledged")
    client.force_login(manager)
    counts = []
    for prompt in (few, many):
        with CaptureQueriesContext(connection) as ctx:
            assert client.get(_url(prompt)).status_code == 200
        counts.append(len(ctx.captured_queries))
    assert counts[0] == counts[1], counts


# --- who may see and act -----------------------------------------------------------------------


@pytest.mark.parametrize("persona", ["manager"])  # the others: escalation/tests/test_who_decides.py
def test_the_assignee_sees_the_decision_forms(client, request, wnb_prompt, persona):
    client.force_login(request.getfixturevalue(persona))
    html = _html(client.get(_url(wnb_prompt)))
    assert ">Decide</h2>" in html
    assert f'action="{_url(wnb_prompt, "acknowledge")}"' in html
    assert f'action="{_url(wnb_prompt, "action")}"' in html
    assert f'action="{_url(wnb_prompt, "escalate")}"' in html
    assert html.count('name="csrfmiddlewaretoken"') >= 4  # sign out + three decision forms


@pytest.mark.parametrize("persona", ["other_team_user", "unshared_partner", "south_manager"])
def test_outsiders_get_404_for_the_page_and_the_actions(client, request, wnb_prompt, share, persona):
    client.force_login(request.getfixturevalue(persona))
    assert client.get(_url(wnb_prompt)).status_code == 404
    assert client.post(_url(wnb_prompt, "acknowledge")).status_code == 404
    assert client.post(_url(wnb_prompt, "action"), ACTION).status_code == 404
    assert client.post(_url(wnb_prompt, "escalate"), {"reason": "Because"}).status_code == 404
    wnb_prompt.refresh_from_db()
    assert wnb_prompt.status == PromptStatus.OPEN
    assert wnb_prompt.events.count() == 1


def test_partner_with_a_share_reads_but_cannot_act(client, partner, share, wnb_prompt):
    client.force_login(partner)
    response = client.get(_url(wnb_prompt))
    assert response.status_code == 200
    html = _html(response)
    assert ">Decide</h2>" not in html and "prompt-action" not in html
    assert f'action="{_url(wnb_prompt, "action")}"' not in html
    assert client.post(_url(wnb_prompt, "acknowledge")).status_code == 403
    assert client.post(_url(wnb_prompt, "action"), ACTION).status_code == 403
    assert client.post(_url(wnb_prompt, "escalate"), {"reason": "Because"}).status_code == 403
    wnb_prompt.refresh_from_db()
    assert wnb_prompt.status == PromptStatus.OPEN and wnb_prompt.action_taken == ""
    assert EscalationPrompt.objects.count() == 1
    assert wnb_prompt.events.count() == 1


def test_partner_without_a_share_gets_404(client, partner, wnb_prompt):
    client.force_login(partner)
    assert client.get(_url(wnb_prompt)).status_code == 404


def test_anonymous_is_sent_to_sign_in(client, wnb_prompt):
    for response in (client.get(_url(wnb_prompt)), client.post(_url(wnb_prompt, "action"), ACTION)):
        assert response.status_code == 302
        assert response.url.startswith(reverse("login"))
    wnb_prompt.refresh_from_db()
    assert wnb_prompt.status == PromptStatus.OPEN


@pytest.mark.parametrize("what", ["acknowledge", "action", "escalate"])
def test_decisions_refuse_get(client, manager, wnb_prompt, what):
    client.force_login(manager)
    assert client.get(_url(wnb_prompt, what)).status_code == 405
    wnb_prompt.refresh_from_db()
    assert wnb_prompt.status == PromptStatus.OPEN


# --- decisions ---------------------------------------------------------------------------------


def test_acknowledge_is_recorded_with_who_and_when(client, manager, wnb_prompt):
    client.force_login(manager)
    before = timezone.now()
    response = client.post(_url(wnb_prompt, "acknowledge"))
    assert response.status_code == 302 and response.url == _url(wnb_prompt)
    wnb_prompt.refresh_from_db()
    assert wnb_prompt.status == PromptStatus.ACKNOWLEDGED
    event = wnb_prompt.events.get(kind="acknowledged")
    assert event.actor == manager and event.at >= before
    assert (event.from_status, event.to_status) == ("open", "acknowledged")
    audit = AuditEvent.objects.get(action="change", model__icontains="escalationprompt")
    assert audit.actor == manager and audit.changes["status"] == {"from": "open", "to": "acknowledged"}
    html = _html(client.get(response.url))
    assert "Acknowledged. It stays open until it is actioned or escalated." in html
    assert "govuk-notification-banner--success" in html
    assert f'action="{_url(wnb_prompt, "acknowledge")}"' not in html  # no second acknowledgement
    assert f'action="{_url(wnb_prompt, "action")}"' in html  # but it can still be actioned


def test_action_with_a_rationale_closes_the_prompt(client, manager, wnb_prompt):
    client.force_login(manager)
    response = client.post(_url(wnb_prompt, "action"), ACTION)
    assert response.status_code == 302 and response.url == reverse("dashboard")
    wnb_prompt.refresh_from_db()
    assert wnb_prompt.status == PromptStatus.ACTIONED
    assert (wnb_prompt.action_taken, wnb_prompt.rationale) == (ACTION["action_taken"], ACTION["rationale"])
    event = wnb_prompt.events.get(kind="actioned")
    assert event.actor == manager
    assert (event.action_taken, event.rationale) == (ACTION["action_taken"], ACTION["rationale"])
    assert AuditEvent.objects.filter(action="change", actor=manager, object_id=str(wnb_prompt.pk)).exists()
    dashboard = client.get(response.url)
    assert "Decision recorded. The prompt is closed as actioned." in _html(dashboard)
    assert wnb_prompt.pk not in _listed(dashboard)
    assert wnb_prompt.pk in _listed(client.get(reverse("dashboard"), {"status": "actioned"}))


def test_a_practitioner_cannot_action_the_team_managers_prompt(client, practitioner, wnb_prompt):
    client.force_login(practitioner)
    assert client.post(_url(wnb_prompt, "action"), ACTION).status_code == 403
    wnb_prompt.refresh_from_db()
    assert wnb_prompt.status == PromptStatus.OPEN


def test_the_lead_professional_actions_their_own_prompt(client, practitioner, wnb_prompt):
    EscalationPrompt.objects.filter(pk=wnb_prompt.pk).update(level="lead_professional", assigned_to=practitioner)
    client.force_login(practitioner)
    assert client.post(_url(wnb_prompt, "action"), ACTION).status_code == 302
    wnb_prompt.refresh_from_db()
    assert wnb_prompt.status == PromptStatus.ACTIONED
    assert wnb_prompt.events.get(kind="actioned").actor == practitioner


@pytest.mark.parametrize(
    ("data", "errors"),
    [
        ({"action_taken": "Phoned the GP", "rationale": ""}, {"rationale": "Give the rationale for the decision"}),
        ({"action_taken": "Phoned the GP", "rationale": "   "}, {"rationale": "Give the rationale for the decision"}),
        ({"action_taken": "Phoned the GP"}, {"rationale": "Give the rationale for the decision"}),
        (
            {"action_taken": "", "rationale": ""},
            {"action_taken": "Say what action was taken", "rationale": "Give the rationale for the decision"},
        ),
    ],
)
def test_action_without_a_rationale_shows_errors_and_changes_nothing(client, manager, wnb_prompt, data, errors):
    client.force_login(manager)
    response = client.post(_url(wnb_prompt, "action"), data)
    assert response.status_code == 200
    html = _html(response)
    assert "govuk-error-summary" in html
    assert "<title>Error: Was not brought" in html
    for field, message in errors.items():
        assert f'<a href="#id_{field}">{message}</a>' in html  # in the summary, linked to the field
        assert f'<p id="id_{field}-error" class="govuk-error-message">' in html
    if data.get("action_taken"):
        assert data["action_taken"] in html  # what was typed is kept
    wnb_prompt.refresh_from_db()
    assert wnb_prompt.status == PromptStatus.OPEN and wnb_prompt.action_taken == ""
    assert wnb_prompt.events.count() == 1
    assert not AuditEvent.objects.filter(action="change").exists()


def test_escalate_with_a_reason_opens_the_next_level(client, manager, wnb_prompt, council, south_manager):
    council.head_of_service = south_manager
    council.save()
    client.force_login(manager)
    response = client.post(_url(wnb_prompt, "escalate"), {"reason": "Needs the head of service's view"})
    assert response.status_code == 302 and response.url == reverse("dashboard")
    wnb_prompt.refresh_from_db()
    assert wnb_prompt.status == PromptStatus.ESCALATED
    event = wnb_prompt.events.get(kind="escalated")
    assert event.actor == manager and event.reason == "Needs the head of service's view"
    successor = EscalationPrompt.objects.get(escalated_from=wnb_prompt)
    assert successor.level == "head_of_service" and successor.assigned_to == south_manager
    assert successor.status == PromptStatus.OPEN
    assert "Escalated to the head of service." in _html(client.get(response.url))

    # The head of service finds it on their dashboard and can decide on it.
    client.force_login(south_manager)
    assert successor.pk in _listed(client.get(reverse("dashboard")))
    html = _html(client.get(_url(successor)))
    assert "Every level this flag has been with" in html
    assert f'href="{_url(wnb_prompt)}">Team manager</a> — Escalated' in html
    assert "Needs the head of service&#x27;s view" in html
    assert client.post(_url(successor, "acknowledge")).status_code == 302
    successor.refresh_from_db()
    assert successor.status == PromptStatus.ACKNOWLEDGED
    assert successor.events.get(kind="acknowledged").actor == south_manager


def test_escalate_without_a_reason_shows_an_error_and_changes_nothing(client, manager, wnb_prompt):
    client.force_login(manager)
    response = client.post(_url(wnb_prompt, "escalate"), {"reason": "  "})
    assert response.status_code == 200
    html = _html(response)
    assert "govuk-error-summary" in html
    assert '<a href="#id_reason">Give the reason for escalating</a>' in html
    assert '<p id="id_reason-error" class="govuk-error-message">' in html
    wnb_prompt.refresh_from_db()
    assert wnb_prompt.status == PromptStatus.OPEN
    assert EscalationPrompt.objects.count() == 1


def test_escalating_beyond_the_partnership_is_refused(client, manager, team):
    top = make_prompt(team=team, severity="high", level="partnership", assigned_to=manager)
    client.force_login(manager)
    response = client.post(_url(top, "escalate"), {"reason": "Higher still"})
    assert response.status_code == 200
    assert "already with the safeguarding partnership" in _html(response)
    top.refresh_from_db()
    assert top.status == PromptStatus.OPEN
    assert EscalationPrompt.objects.count() == 1


# --- invalid transitions -----------------------------------------------------------------------


@pytest.fixture
def actioned(client, manager, wnb_prompt):
    client.force_login(manager)
    client.post(_url(wnb_prompt, "action"), ACTION, follow=True)  # follow: the success message is shown
    wnb_prompt.refresh_from_db()
    assert wnb_prompt.status == PromptStatus.ACTIONED
    return wnb_prompt


def _unchanged(prompt) -> None:
    prompt.refresh_from_db()
    assert prompt.status == PromptStatus.ACTIONED
    assert (prompt.action_taken, prompt.rationale) == (ACTION["action_taken"], ACTION["rationale"])
    assert [e.kind for e in prompt.events.all()] == ["raised", "actioned"]
    assert EscalationPrompt.objects.count() == 1


def test_an_actioned_prompt_has_no_decision_forms(client, actioned):
    html = _html(client.get(_url(actioned)))
    assert ">Decide</h2>" not in html
    assert f'action="{_url(actioned, "action")}"' not in html
    assert "Actioned" in html and ACTION["rationale"] in html


def test_acknowledging_an_actioned_prompt_is_refused_with_a_message(client, actioned):
    response = client.post(_url(actioned, "acknowledge"), follow=True)
    assert response.redirect_chain == [(_url(actioned), 302)]
    html = _html(response)
    assert "This prompt is already actioned; it can only be acknowledged while open." in html
    assert "govuk-notification-banner--success" not in html
    _unchanged(actioned)


def test_actioning_an_actioned_prompt_again_is_refused(client, actioned):
    response = client.post(_url(actioned, "action"), {"action_taken": "Again", "rationale": "Second thoughts"})
    assert response.status_code == 409
    html = _html(response)
    assert "govuk-error-summary" in html
    assert "This prompt is already actioned" in html
    assert "Second thoughts" in html  # what was tried stays on the page
    _unchanged(actioned)


def test_escalating_an_actioned_prompt_is_refused(client, actioned):
    response = client.post(_url(actioned, "escalate"), {"reason": "Too late"})
    assert response.status_code == 409
    html = _html(response)
    assert "govuk-error-summary" in html
    assert "This prompt is already actioned; it can only be escalated while open or acknowledged." in html
    _unchanged(actioned)


def test_acknowledging_twice_is_refused(client, manager, wnb_prompt):
    client.force_login(manager)
    client.post(_url(wnb_prompt, "acknowledge"))
    response = client.post(_url(wnb_prompt, "acknowledge"), follow=True)
    assert "This prompt is already acknowledged; it can only be acknowledged while open." in _html(response)
    assert wnb_prompt.events.filter(kind="acknowledged").count() == 1


def test_a_resolved_flag_still_needs_its_decision(client, manager, wnb_prompt):
    Flag.objects.filter(pk=wnb_prompt.flag_id).update(status="resolved", resolved_at=timezone.now())
    client.force_login(manager)
    html = _html(client.get(_url(wnb_prompt)))
    assert "the check no longer finds this since" in html
    assert ">Decide</h2>" in html
    assert client.post(_url(wnb_prompt, "action"), ACTION).status_code == 302


def test_a_partner_on_the_prompt_page_does_not_see_other_agencies_shares(client, partner, share, family, child):
    import datetime as dt

    from django.utils import timezone

    from cases.tests.factories import AgencyFactory, ShareFactory
    from escalation.models import EscalationPrompt
    from escalation.services.checks import run_checks_in_process
    from visits.tests.factories import AppointmentFactory

    for days in (3, 9):
        AppointmentFactory(
            member=child, status="was_not_brought", scheduled_for=timezone.now() - dt.timedelta(days=days)
        )
    run_checks_in_process(rule_codes=["was_not_brought"])
    ShareFactory(family=family, agency=AgencyFactory(name="Northshire Police Public Protection", kind="police"))
    prompt = EscalationPrompt.objects.get(flag__rule="was_not_brought")
    client.force_login(partner)
    html = client.get(f"/prompts/{prompt.pk}/").content.decode()
    assert "Northshire Police Public Protection" not in html
