"""Escalation prompts (DESIGN 4): routing of new flags, the decisions people make on them, and the
automatic escalation of overdue prompts. The clock is controlled by passing `as_of`."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core.exceptions import PermissionDenied, ValidationError

from audit.models import AuditEvent
from cases.models import Family, Role
from cases.service_utils import ConflictError
from cases.services import lead_professional_set
from cases.tests.factories import MemberFactory, TeamFactory, UserFactory
from escalation.models import CheckSettings, EscalationPrompt, PromptEvent
from escalation.permissions import may_decide_prompt
from escalation.services.prompts import (
    add_working_days,
    escalate_overdue,
    prompt_acknowledge,
    prompt_action,
    prompt_escalate,
)
from visits.models import AppointmentStatus

from .helpers import AS_OF, LONDON, appointment, run

pytestmark = pytest.mark.django_db

WNB = AppointmentStatus.WAS_NOT_BROUGHT
FRIDAY = AS_OF.date()  # 13 June 2025
NEXT_FRIDAY = dt.date(2025, 6, 20)


def raise_flag(child, agency, *, high: bool, as_of=AS_OF) -> EscalationPrompt:
    """A `was_not_brought` flag (high: a critical appointment; medium: two ordinary ones) and its prompt."""
    if high:
        appointment(child, 5, WNB, agency=agency, critical=True)
    else:
        appointment(child, 5, WNB, agency=agency)
        appointment(child, 15, WNB, agency=agency)
    run(rules=["was_not_brought"], as_of=as_of)
    return EscalationPrompt.objects.get()


@pytest.fixture
def high_prompt(family, child, manager, health_agency):
    return raise_flag(child, health_agency, high=True)


@pytest.fixture
def medium_prompt(family, child, manager, health_agency):
    return raise_flag(child, health_agency, high=False)


@pytest.fixture
def head_of_service(council):
    user = UserFactory(
        username="hos", team=TeamFactory(agency=council, name="Senior Leadership"), agency=council, role=Role.MANAGER
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


def events(prompt) -> list[tuple]:
    return list(prompt.events.values_list("kind", "from_status", "to_status", "actor_id"))


# --- routing ------------------------------------------------------------------------------------


def test_a_new_high_flag_raises_a_prompt_to_the_team_manager(high_prompt, manager, family):
    assert (high_prompt.level, high_prompt.assigned_to, high_prompt.status) == ("team_manager", manager, "open")
    assert high_prompt.family == family
    assert high_prompt.flag.severity == "high"
    [raised] = high_prompt.events.all()
    assert (raised.kind, raised.to_status, raised.actor, raised.at) == ("raised", "open", None, AS_OF)
    assert raised.reason == "High severity: to the team manager."


def test_a_new_medium_flag_raises_a_prompt_to_the_lead_professional(medium_prompt, practitioner):
    assert (medium_prompt.level, medium_prompt.assigned_to) == ("lead_professional", practitioner)
    assert medium_prompt.events.get().reason == "To the lead professional."


def test_a_medium_flag_with_no_lead_professional_goes_to_the_team_manager(family, child, manager, health_agency):
    family.lead_professional = None
    family.save()

    prompt = raise_flag(child, health_agency, high=False)

    assert (prompt.level, prompt.assigned_to) == ("team_manager", manager)
    assert prompt.events.get().reason == "No lead professional: to the team manager."


def test_the_team_manager_is_the_manager_of_the_familys_own_team(family, child, health_agency, council, manager):
    UserFactory(team=TeamFactory(agency=council), agency=council, role=Role.MANAGER)  # another team's manager
    UserFactory(team=family.team, agency=council, role=Role.MANAGER, is_active=False)  # a former manager

    prompt = raise_flag(child, health_agency, high=True)

    assert prompt.assigned_to == manager


def test_the_prompt_is_due_5_working_days_later_friday_to_friday(high_prompt):
    assert AS_OF.weekday() == 4
    assert high_prompt.due == NEXT_FRIDAY


@pytest.mark.parametrize(
    ("start", "due"),
    [
        (dt.date(2025, 6, 9), dt.date(2025, 6, 16)),  # Monday -> Monday
        (dt.date(2025, 6, 11), dt.date(2025, 6, 18)),  # Wednesday -> Wednesday
        (dt.date(2025, 6, 14), dt.date(2025, 6, 20)),  # Saturday -> Friday
        (dt.date(2025, 6, 15), dt.date(2025, 6, 20)),  # Sunday -> Friday
    ],
)
def test_working_days_skip_weekends(start, due):
    assert add_working_days(start, 5) == due


def test_the_due_date_counts_from_the_london_date(family, child, manager, health_agency):
    # 23:30 UTC on Sunday 15 June is 00:30 on Monday 16 June in London: due Monday 23 June, not Friday 20.
    as_of = dt.datetime(2025, 6, 15, 23, 30, tzinfo=dt.UTC)
    appointment(child, as_of.astimezone(LONDON) - dt.timedelta(days=2), WNB, agency=health_agency, critical=True)

    run(rules=["was_not_brought"], as_of=as_of)

    assert EscalationPrompt.objects.get().due == dt.date(2025, 6, 23)


def test_the_working_days_come_from_check_settings(family, child, manager, health_agency):
    cfg = CheckSettings.load()
    cfg.prompt_due_working_days = 2
    cfg.save()

    prompt = raise_flag(child, health_agency, high=True)

    assert prompt.due == dt.date(2025, 6, 17)  # Friday + 2 working days = Tuesday


# --- decisions ----------------------------------------------------------------------------------


def test_acknowledging_an_open_prompt(high_prompt, manager):
    prompt = prompt_acknowledge(actor=manager, prompt=high_prompt)

    assert prompt.status == "acknowledged"
    assert EscalationPrompt.objects.get(pk=high_prompt.pk).status == "acknowledged"
    assert events(prompt)[-1] == ("acknowledged", "open", "acknowledged", manager.pk)


def test_acknowledging_twice_is_refused(high_prompt, manager):
    prompt_acknowledge(actor=manager, prompt=high_prompt)

    with pytest.raises(ConflictError) as err:
        prompt_acknowledge(actor=manager, prompt=high_prompt)

    assert err.value.current["status"] != "open"
    assert high_prompt.events.count() == 2


def test_actioning_an_acknowledged_prompt_records_the_action_and_rationale(high_prompt, manager):
    prompt_acknowledge(actor=manager, prompt=high_prompt)

    prompt = prompt_action(
        actor=manager,
        prompt=high_prompt,
        action_taken="  Strategy discussion booked with health  ",
        rationale="Missed appointments across agencies",
    )

    assert (prompt.status, prompt.action_taken, prompt.rationale) == (
        "actioned",
        "Strategy discussion booked with health",
        "Missed appointments across agencies",
    )
    last = prompt.events.last()
    assert (last.kind, last.from_status, last.to_status, last.actor) == (
        "actioned",
        "acknowledged",
        "actioned",
        manager,
    )
    assert (last.action_taken, last.rationale) == (prompt.action_taken, prompt.rationale)


def test_an_open_prompt_can_be_actioned_without_acknowledging_first(medium_prompt, practitioner):
    prompt = prompt_action(actor=practitioner, prompt=medium_prompt, action_taken="Home visit", rationale="Check")

    assert prompt.status == "actioned"


@pytest.mark.parametrize(
    ("action_taken", "rationale", "missing"),
    [("", "", {"action_taken", "rationale"}), ("   ", "Because", {"action_taken"}), ("Visit", "", {"rationale"})],
)
def test_actioning_requires_an_action_and_a_rationale(high_prompt, manager, action_taken, rationale, missing):
    with pytest.raises(ValidationError) as err:
        prompt_action(actor=manager, prompt=high_prompt, action_taken=action_taken, rationale=rationale)

    assert set(err.value.message_dict) == missing
    high_prompt.refresh_from_db()
    assert (high_prompt.status, high_prompt.action_taken, high_prompt.rationale) == ("open", "", "")
    assert high_prompt.events.count() == 1


def test_actioning_an_actioned_prompt_is_refused_and_changes_nothing(high_prompt, manager, head_of_service):
    prompt_action(actor=manager, prompt=high_prompt, action_taken="Strategy discussion", rationale="Pattern")
    high_prompt.refresh_from_db()
    before = (high_prompt.status, high_prompt.action_taken, high_prompt.rationale, high_prompt.updated_at)
    audits = AuditEvent.objects.count()

    with pytest.raises(ConflictError) as err:
        prompt_action(actor=head_of_service, prompt=high_prompt, action_taken="Something else", rationale="Other")

    assert err.value.current["status"] != "open"
    high_prompt.refresh_from_db()
    assert (high_prompt.status, high_prompt.action_taken, high_prompt.rationale, high_prompt.updated_at) == before
    assert [e[0] for e in events(high_prompt)] == ["raised", "actioned"]
    assert AuditEvent.objects.count() == audits


def test_escalating_requires_a_reason(high_prompt, manager):
    for reason in ("", "   "):
        with pytest.raises(ValidationError) as err:
            prompt_escalate(actor=manager, prompt=high_prompt, reason=reason)
        assert "reason" in err.value.message_dict

    assert EscalationPrompt.objects.count() == 1
    high_prompt.refresh_from_db()
    assert high_prompt.status == "open"


def test_escalating_opens_the_next_levels_prompt_linked_to_the_old_one(high_prompt, manager, head_of_service):
    successor = prompt_escalate(actor=manager, prompt=high_prompt, reason="Needs a senior decision")

    high_prompt.refresh_from_db()
    assert high_prompt.status == "escalated"
    assert (successor.level, successor.status, successor.assigned_to) == ("head_of_service", "open", head_of_service)
    assert successor.escalated_from == high_prompt
    assert high_prompt.escalated_to == successor
    assert (successor.flag_id, successor.family_id) == (high_prompt.flag_id, high_prompt.family_id)
    old_event = high_prompt.events.last()
    assert (old_event.kind, old_event.from_status, old_event.to_status) == ("escalated", "open", "escalated")
    assert (old_event.actor, old_event.reason) == (manager, "Needs a senior decision")
    new_event = successor.events.get()
    assert (new_event.kind, new_event.actor) == ("raised", manager)
    assert new_event.reason == "Escalated from team manager: Needs a senior decision"


def test_a_lead_professionals_prompt_escalates_to_the_team_manager(medium_prompt, practitioner, manager):
    successor = prompt_escalate(actor=practitioner, prompt=medium_prompt, reason="Out of my depth")

    assert (successor.level, successor.assigned_to) == ("team_manager", manager)


def test_an_acknowledged_prompt_can_be_escalated(high_prompt, manager, head_of_service):
    prompt_acknowledge(actor=manager, prompt=high_prompt)

    successor = prompt_escalate(actor=manager, prompt=high_prompt, reason="Senior decision")

    assert successor.level == "head_of_service"
    assert high_prompt.events.last().from_status == "acknowledged"


@pytest.mark.parametrize("decided", ["actioned", "escalated"])
def test_a_decided_prompt_cannot_be_escalated(high_prompt, manager, head_of_service, decided):
    if decided == "actioned":
        prompt_action(actor=manager, prompt=high_prompt, action_taken="Visit", rationale="Risk")
    else:
        prompt_escalate(actor=manager, prompt=high_prompt, reason="Senior decision")
    count = EscalationPrompt.objects.count()

    with pytest.raises(ConflictError) as err:
        prompt_escalate(actor=manager, prompt=high_prompt, reason="Again")

    assert err.value.current["status"] != "open"
    assert EscalationPrompt.objects.count() == count


def test_escalation_climbs_to_the_partnership_and_stops_there(high_prompt, manager, head_of_service, partnership_lead):
    at_head = prompt_escalate(actor=manager, prompt=high_prompt, reason="Senior decision")
    at_partnership = prompt_escalate(actor=head_of_service, prompt=at_head, reason="Multi-agency issue")

    assert (at_partnership.level, at_partnership.assigned_to) == ("partnership", partnership_lead)
    with pytest.raises(ValidationError) as err:
        prompt_escalate(actor=partnership_lead, prompt=at_partnership, reason="Higher still")
    assert "reason" in err.value.message_dict
    at_partnership.refresh_from_db()
    assert at_partnership.status == "open"


def test_the_history_records_who_when_and_why_for_every_step(high_prompt, manager, head_of_service):
    prompt_acknowledge(actor=manager, prompt=high_prompt)
    successor = prompt_escalate(actor=manager, prompt=high_prompt, reason="Senior decision")
    prompt_action(actor=head_of_service, prompt=successor, action_taken="Strategy meeting", rationale="Pattern")

    history = list(
        PromptEvent.objects.filter(prompt__flag=high_prompt.flag).values_list(
            "prompt__level", "kind", "actor", "reason", "action_taken", "rationale"
        )
    )
    assert history == [
        ("team_manager", "raised", None, "High severity: to the team manager.", "", ""),
        ("team_manager", "acknowledged", manager.pk, "", "", ""),
        ("team_manager", "escalated", manager.pk, "Senior decision", "", ""),
        ("head_of_service", "raised", manager.pk, "Escalated from team manager: Senior decision", "", ""),
        ("head_of_service", "actioned", head_of_service.pk, "", "Strategy meeting", "Pattern"),
    ]
    assert all(PromptEvent.objects.filter(prompt__flag=high_prompt.flag).values_list("at", flat=True))


def test_decisions_are_audited_and_mark_the_family_changed(high_prompt, manager):
    Family.objects.filter(pk=high_prompt.family_id).update(updated_at=AS_OF)

    prompt_acknowledge(actor=manager, prompt=high_prompt)

    audit = AuditEvent.objects.get(model="escalation.escalationprompt", object_id=str(high_prompt.pk))
    assert (audit.actor, audit.family_id) == (manager, high_prompt.family_id)
    assert audit.changes["status"] == {"from": "open", "to": "acknowledged"}
    assert Family.objects.get(pk=high_prompt.family_id).updated_at > AS_OF


# --- who may decide -----------------------------------------------------------------------------


def test_a_partner_cannot_act_on_a_prompt_even_on_a_shared_family(high_prompt, partner, share):
    with pytest.raises(PermissionDenied):
        prompt_acknowledge(actor=partner, prompt=high_prompt)
    with pytest.raises(PermissionDenied):
        prompt_action(actor=partner, prompt=high_prompt, action_taken="Visit", rationale="Risk")
    with pytest.raises(PermissionDenied):
        prompt_escalate(actor=partner, prompt=high_prompt, reason="Worried")

    high_prompt.refresh_from_db()
    assert high_prompt.status == "open"
    assert EscalationPrompt.objects.count() == 1
    assert high_prompt.events.count() == 1


def test_another_team_cannot_act_on_a_prompt(high_prompt, other_team_user):
    with pytest.raises(PermissionDenied):
        prompt_acknowledge(actor=other_team_user, prompt=high_prompt)
    with pytest.raises(PermissionDenied):
        prompt_action(actor=other_team_user, prompt=high_prompt, action_taken="Visit", rationale="Risk")
    with pytest.raises(PermissionDenied):
        prompt_escalate(actor=other_team_user, prompt=high_prompt, reason="Worried")

    high_prompt.refresh_from_db()
    assert high_prompt.status == "open"


def test_a_teammate_cannot_decide_the_team_managers_prompt(high_prompt, teammate, manager):
    with pytest.raises(PermissionDenied) as err:
        prompt_acknowledge(actor=teammate, prompt=high_prompt)
    assert str(err.value) == (
        f"Only the team manager, {manager.get_full_name()}, or someone above them can decide this prompt."
    )
    high_prompt.refresh_from_db()
    assert high_prompt.status == "open"


def test_the_head_of_service_decides_the_prompts_escalated_to_them_and_those_below_them(
    high_prompt, family, manager, head_of_service, health_agency
):
    assert head_of_service.team_id != family.team_id
    successor = prompt_escalate(actor=manager, prompt=high_prompt, reason="Senior decision")

    with pytest.raises(PermissionDenied):
        prompt_acknowledge(actor=manager, prompt=successor)  # escalated above the team manager
    assert prompt_acknowledge(actor=head_of_service, prompt=successor).status == "acknowledged"

    sibling = MemberFactory(family=family, role="child")
    appointment(sibling, 3, WNB, agency=health_agency, critical=True)
    run(rules=["was_not_brought"], as_of=AS_OF + dt.timedelta(hours=1))
    teams_own = EscalationPrompt.objects.get(flag__member=sibling)
    assert prompt_acknowledge(actor=head_of_service, prompt=teams_own).status == "acknowledged"


def test_an_inactive_user_cannot_act(high_prompt, manager):
    manager.is_active = False
    manager.save()

    with pytest.raises(PermissionDenied):
        prompt_acknowledge(actor=manager, prompt=high_prompt)


# --- overdue ------------------------------------------------------------------------------------


def at_london(day: dt.date, hour: int = 9) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(hour), tzinfo=LONDON)


def test_an_open_prompt_is_not_overdue_on_its_due_date(high_prompt):
    assert escalate_overdue(as_of=at_london(NEXT_FRIDAY, 23)) == 0
    high_prompt.refresh_from_db()
    assert high_prompt.status == "open"


def test_overdue_is_judged_by_the_london_date(high_prompt, head_of_service):
    # 23:30 UTC on the due date (Friday 20 June) is already Saturday in London.
    assert escalate_overdue(as_of=dt.datetime(2025, 6, 20, 22, 59, tzinfo=dt.UTC)) == 0
    assert escalate_overdue(as_of=dt.datetime(2025, 6, 20, 23, 30, tzinfo=dt.UTC)) == 1


def test_an_overdue_open_prompt_escalates_itself_one_level(high_prompt, head_of_service):
    monday = at_london(dt.date(2025, 6, 23))

    assert escalate_overdue(as_of=monday) == 1

    high_prompt.refresh_from_db()
    assert high_prompt.status == "escalated"
    successor = high_prompt.escalated_to
    assert (successor.level, successor.assigned_to, successor.status) == ("head_of_service", head_of_service, "open")
    assert successor.due == dt.date(2025, 6, 30)
    assert successor.created_at == monday
    escalated = high_prompt.events.last()
    assert (escalated.kind, escalated.actor, escalated.at) == ("escalated", None, monday)
    assert "Overdue" in escalated.reason
    assert "20 Jun 2025" in escalated.reason
    assert "Overdue" in successor.events.get().reason


def test_an_overdue_acknowledged_prompt_escalates_too(high_prompt, manager, head_of_service):
    prompt_acknowledge(actor=manager, prompt=high_prompt)

    assert escalate_overdue(as_of=at_london(dt.date(2025, 6, 23))) == 1

    high_prompt.refresh_from_db()
    assert high_prompt.status == "escalated"
    # (The acknowledgement happened at the real time, after the fixed clock, so pick the event by kind.)
    assert high_prompt.events.get(kind="escalated").from_status == "acknowledged"


def test_a_lead_professionals_overdue_prompt_escalates_to_the_team_manager(medium_prompt, manager):
    escalate_overdue(as_of=at_london(dt.date(2025, 6, 23)))

    medium_prompt.refresh_from_db()
    assert (medium_prompt.escalated_to.level, medium_prompt.escalated_to.assigned_to) == ("team_manager", manager)


def test_overdue_escalation_is_idempotent(high_prompt, head_of_service):
    monday = at_london(dt.date(2025, 6, 23))

    assert escalate_overdue(as_of=monday) == 1
    assert escalate_overdue(as_of=monday) == 0
    assert escalate_overdue(as_of=monday + dt.timedelta(hours=5)) == 0

    assert EscalationPrompt.objects.count() == 2
    assert EscalationPrompt.objects.filter(status="open").count() == 1
    assert PromptEvent.objects.filter(kind="escalated").count() == 1


def test_an_actioned_prompt_past_its_due_date_does_not_escalate(high_prompt, manager):
    prompt_action(actor=manager, prompt=high_prompt, action_taken="Visit", rationale="Risk")

    assert escalate_overdue(as_of=at_london(dt.date(2025, 7, 30))) == 0

    assert EscalationPrompt.objects.count() == 1


def test_an_overdue_successor_escalates_again_and_the_partnership_is_the_end(
    high_prompt, head_of_service, partnership_lead
):
    escalate_overdue(as_of=at_london(dt.date(2025, 6, 23)))  # -> head of service, due 30 June
    escalate_overdue(as_of=at_london(dt.date(2025, 7, 1)))  # -> partnership, due 8 July

    at_partnership = EscalationPrompt.objects.get(status="open")
    assert (at_partnership.level, at_partnership.assigned_to) == ("partnership", partnership_lead)
    assert escalate_overdue(as_of=at_london(dt.date(2025, 9, 1))) == 0
    assert at_partnership.escalated_from.escalated_from == high_prompt


def test_a_run_escalates_overdue_prompts(high_prompt, head_of_service):
    _, report = run(rules=["was_not_brought"], as_of=at_london(dt.date(2025, 6, 23)))

    assert report.prompts_escalated == 1
    assert report.prompts_raised == 0
    high_prompt.refresh_from_db()
    assert high_prompt.status == "escalated"


def test_a_prompt_stays_and_can_still_be_decided_after_its_flag_resolves(high_prompt, manager, child):
    child.appointments.update(status=AppointmentStatus.ATTENDED)
    run(rules=["was_not_brought"], as_of=AS_OF + dt.timedelta(days=1))
    high_prompt.flag.refresh_from_db()
    assert high_prompt.flag.status == "resolved"

    prompt = prompt_action(actor=manager, prompt=high_prompt, action_taken="Checked with GP", rationale="Resolved")

    assert prompt.status == "actioned"


def test_the_lead_professional_who_is_given_a_prompt_can_act_on_it(family, child, manager, partner, share):
    lead_professional_set(actor=manager, family=family, user=partner)  # a health visitor leads early help
    prompt = raise_flag(child, partner.agency, high=False)

    assert prompt.assigned_to is not None
    assert may_decide_prompt(prompt.assigned_to, prompt)


def test_a_prompt_whose_flag_has_resolved_waits_for_its_decision_but_does_not_climb(high_prompt):
    from escalation.models import Flag

    Flag.objects.filter(pk=high_prompt.flag_id).update(status="resolved", resolved_at=AS_OF)

    assert escalate_overdue(as_of=at_london(dt.date(2025, 6, 23))) == 0

    high_prompt.refresh_from_db()
    assert high_prompt.status == "open"  # the record of what was seen stays, awaiting a decision
