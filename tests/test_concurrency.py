"""Lost updates (DESIGN 6): versioned records refuse a change made from an older version, with 409
in the API (what is saved now and what was tried) and a conflict page in the browser; of two
people deciding on one prompt at once, exactly one wins. Real threads check the row locks."""

from __future__ import annotations

import datetime as dt
import re
import threading

import pytest
from django.db import connection
from django.utils import timezone
from rest_framework.test import APIClient

from accounts.tests.factories import api_token_for
from audit.models import AuditEvent
from cases.models import Member, Role
from cases.service_utils import ConflictError
from cases.tests.factories import UserFactory

pytestmark = pytest.mark.django_db


def token_client(user) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {api_token_for(user)}")
    client.raise_request_exception = False
    return client


@pytest.fixture
def alice_api(practitioner):
    return token_client(practitioner)


@pytest.fixture
def bob_api(teammate):
    return token_client(teammate)


def _url(member) -> str:
    return f"/api/v1/members/{member.pk}/"


# --- the API: ETag, If-Match and `version` --------------------------------------------------------


def test_a_read_carries_the_version_as_its_etag(alice_api, child):
    response = alice_api.get(_url(child))
    assert response.status_code == 200
    assert response["ETag"] == '"1"'
    assert response.json()["version"] == 1


@pytest.mark.parametrize("how", ["if-match", "weak-if-match", "body"])
def test_of_two_changes_from_the_same_version_the_second_is_a_409_and_nothing_is_lost(
    alice_api, bob_api, child, practitioner, how
):
    assert alice_api.get(_url(child))["ETag"] == bob_api.get(_url(child))["ETag"] == '"1"'

    def patch(client, body):
        if how == "body":
            return client.patch(_url(child), {**body, "version": 1}, format="json")
        tag = 'W/"1"' if how == "weak-if-match" else '"1"'
        return client.patch(_url(child), body, format="json", HTTP_IF_MATCH=tag)

    first = patch(alice_api, {"given_name": "Kye", "school": "Oak Primary"})
    assert first.status_code == 200, first.content
    assert first.json()["version"] == 2
    assert first["ETag"] == '"2"'

    second = patch(bob_api, {"given_name": "Kaiden"})
    assert second.status_code == 409, second.content
    body = second.json()
    assert body["current"]["version"] == 2
    assert body["current"]["given_name"] == "Kye"
    assert body["attempted"] == {"given_name": "Kaiden"}
    assert "version 2" in body["detail"]

    saved = Member.objects.get(pk=child.pk)
    assert (saved.given_name, saved.school, saved.version) == ("Kye", "Oak Primary", 2)
    assert AuditEvent.objects.filter(action="change").count() == 1
    assert AuditEvent.objects.get(action="change").actor_id == practitioner.pk
    assert saved.history.count() == 2


def test_the_409_answer_lets_the_caller_retry_with_the_current_version(alice_api, bob_api, child):
    assert alice_api.patch(_url(child), {"given_name": "Kye"}, format="json", HTTP_IF_MATCH='"1"').status_code == 200
    conflict = bob_api.patch(_url(child), {"school": "Elm"}, format="json", HTTP_IF_MATCH='"1"')
    assert conflict.status_code == 409
    retry = bob_api.patch(
        _url(child),
        {"school": "Elm"},
        format="json",
        HTTP_IF_MATCH=f'"{conflict.json()["current"]["version"]}"',
    )
    assert retry.status_code == 200
    assert retry.json()["version"] == 3
    saved = Member.objects.get(pk=child.pk)
    assert (saved.given_name, saved.school) == ("Kye", "Elm")


def test_a_stale_if_match_on_put_is_a_409(alice_api, bob_api, child):
    body = bob_api.get(_url(child)).json()
    assert alice_api.patch(_url(child), {"given_name": "Kye"}, format="json").status_code == 200

    body["given_name"] = "Kaiden"
    response = bob_api.put(_url(child), body, format="json", HTTP_IF_MATCH='"1"')
    assert response.status_code == 409, response.content
    assert response.json()["current"]["version"] == 2
    assert response.json()["attempted"]["given_name"] == "Kaiden"
    assert Member.objects.get(pk=child.pk).given_name == "Kye"


def test_a_put_with_its_own_stale_get_body_is_a_409(alice_api, bob_api, child):
    """The `version` in a GET body sent back with PUT is checked even without If-Match."""
    body = bob_api.get(_url(child)).json()
    assert alice_api.patch(_url(child), {"given_name": "Kye"}, format="json").status_code == 200
    body["school"] = "Elm"
    response = bob_api.put(_url(child), body, format="json")
    assert response.status_code == 409
    assert Member.objects.get(pk=child.pk).school == ""


def test_a_current_if_match_on_put_saves(alice_api, child):
    response = alice_api.get(_url(child))
    body = response.json()
    body["given_name"] = "Kye"
    saved = alice_api.put(_url(child), body, format="json", HTTP_IF_MATCH=response["ETag"])
    assert saved.status_code == 200, saved.content
    assert saved["ETag"] == '"2"'


def test_without_if_match_or_version_a_change_still_saves(alice_api, bob_api, child):
    """Backwards compatible: a partner system that sends neither keeps working."""
    assert alice_api.patch(_url(child), {"given_name": "Kye"}, format="json").status_code == 200
    response = bob_api.patch(_url(child), {"school": "Elm"}, format="json")
    assert response.status_code == 200
    assert response.json()["version"] == 3
    assert response["ETag"] == '"3"'
    saved = Member.objects.get(pk=child.pk)
    assert (saved.given_name, saved.school, saved.version) == ("Kye", "Elm", 3)


def test_if_match_star_means_any_version(alice_api, child):
    Member.objects.filter(pk=child.pk).update(version=7)
    response = alice_api.patch(_url(child), {"given_name": "Kye"}, format="json", HTTP_IF_MATCH="*")
    assert response.status_code == 200
    assert response.json()["version"] == 8


def test_a_malformed_if_match_is_a_400(alice_api, child):
    response = alice_api.patch(_url(child), {"given_name": "Kye"}, format="json", HTTP_IF_MATCH="banana")
    assert response.status_code == 400
    assert "If-Match" in response.json()
    assert Member.objects.get(pk=child.pk).given_name == "Kai"


def test_a_change_that_alters_nothing_keeps_the_version(alice_api, child):
    response = alice_api.patch(_url(child), {"given_name": "Kai"}, format="json", HTTP_IF_MATCH='"1"')
    assert response.status_code == 200
    assert response["ETag"] == '"1"'


@pytest.mark.parametrize(
    ("path", "change"),
    [
        ("/api/v1/families/{family}/", {"name": "Smith-Jones family"}),
        ("/api/v1/visits/{visit}/", {"outcome": "Plan agreed"}),
        ("/api/v1/appointments/{appointment}/", {"notes": "Weighed"}),
        ("/api/v1/referrals/{referral}/", {"summary": "Updated summary"}),
    ],
)
def test_every_versioned_resource_refuses_a_stale_if_match(alice_api, bob_api, family, child, council, path, change):
    from referrals.tests.factories import ReferralFactory
    from visits.tests.factories import AppointmentFactory, VisitFactory

    ids = {
        "family": family.pk,
        "visit": VisitFactory(family=family).pk,
        "appointment": AppointmentFactory(member=child, agency=council).pk,
        "referral": ReferralFactory(family=family).pk,
    }
    url = path.format(**ids)
    assert alice_api.get(url)["ETag"] == '"1"'
    assert alice_api.patch(url, change, format="json", HTTP_IF_MATCH='"1"').status_code == 200
    response = bob_api.patch(url, change, format="json", HTTP_IF_MATCH='"1"')
    assert response.status_code == 409, response.content
    assert response.json()["current"]["version"] == 2


# --- real concurrency: two threads, two database connections --------------------------------------


def _race(*calls):
    """Run the calls at the same moment in threads, each with its own database connection.
    Returns each call's result or the exception it raised."""
    barrier = threading.Barrier(len(calls))
    results: list = [None] * len(calls)

    def run(i, call):
        try:
            barrier.wait(timeout=10)
            results[i] = call()
        except Exception as exc:
            results[i] = exc
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i, call)) for i, call in enumerate(calls)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert not any(t.is_alive() for t in threads), "a thread is stuck (a lock never released?)"
    return results


@pytest.mark.django_db(transaction=True)
def test_two_threads_updating_one_member_from_version_1_exactly_one_wins(family, child, practitioner, teammate):
    from cases.services import member_update

    def update(actor, name):
        def call():
            member = Member.objects.get(pk=child.pk)
            return member_update(actor=actor, member=member, data={"version": 1, "given_name": name})

        return call

    results = _race(update(practitioner, "Kye"), update(teammate, "Kaiden"))

    winners = [r for r in results if isinstance(r, Member)]
    losers = [r for r in results if isinstance(r, ConflictError)]
    assert len(winners) == 1 and len(losers) == 1, results
    saved = Member.objects.get(pk=child.pk)
    assert saved.version == 2
    assert saved.given_name == winners[0].given_name
    assert losers[0].current["version"] == 2
    assert losers[0].current["given_name"] == saved.given_name
    assert losers[0].attempted["given_name"] != saved.given_name
    assert AuditEvent.objects.filter(action="change", model="cases.member").count() == 1
    assert saved.history.count() == 2


@pytest.mark.django_db(transaction=True)
def test_two_managers_acting_on_one_prompt_at_once_exactly_one_wins(family, child, manager, team):
    from escalation.models import EscalationPrompt, Flag, PromptEvent
    from escalation.services.prompts import prompt_action

    deputy = UserFactory(username="deputy", team=team, agency=team.agency, role=Role.MANAGER)
    # Above the team manager, so both may decide (escalation.permissions): a co-manager may not.
    team.agency.head_of_service = deputy
    team.agency.save()
    flag = Flag.objects.create(family=family, member=child, rule="was_not_brought", severity="high", detail="Missed")
    prompt = EscalationPrompt.objects.create(
        flag=flag, family=family, level="team_manager", assigned_to=manager, due=timezone.localdate() + dt.timedelta(5)
    )

    def act(actor, words):
        def call():
            fresh = EscalationPrompt.objects.select_related("family").get(pk=prompt.pk)
            return prompt_action(actor=actor, prompt=fresh, action_taken=words, rationale=f"Rationale: {words}")

        return call

    results = _race(act(manager, "Strategy meeting called"), act(deputy, "Home visit today"))

    winners = [r for r in results if isinstance(r, EscalationPrompt)]
    losers = [r for r in results if isinstance(r, ConflictError)]
    assert len(winners) == 1 and len(losers) == 1, results
    saved = EscalationPrompt.objects.get(pk=prompt.pk)
    assert saved.status == "actioned"
    assert saved.action_taken == winners[0].action_taken
    assert losers[0].current["status"] == "actioned"
    assert losers[0].current["action_taken"] == saved.action_taken
    assert losers[0].attempted["action_taken"] != saved.action_taken
    assert PromptEvent.objects.filter(prompt=prompt, kind="actioned").count() == 1
    assert AuditEvent.objects.filter(action="change", model="escalation.escalationprompt").count() == 1


# --- page forms ----------------------------------------------------------------------------------


def _hidden_version(html: str) -> str:
    match = re.search(r'<input[^>]*name="version"[^>]*>', html)
    assert match, "no version input in the form"
    tag = match.group(0)
    assert 'type="hidden"' in tag
    value = re.search(r'value="([^"]*)"', tag)
    return value.group(1) if value else ""


def _member_form(member: Member, version: str, **overrides) -> dict:
    dob = member.date_of_birth
    data = {
        "version": version,
        "given_name": member.given_name,
        "family_name": member.family_name,
        "aliases": "",
        "role": member.role,
        "date_of_birth_day": str(dob.day) if dob else "",
        "date_of_birth_month": str(dob.month) if dob else "",
        "date_of_birth_year": str(dob.year) if dob else "",
        "lives_in_household": "yes" if member.lives_in_household else "no",
        "school": "",
        "gp_practice": "",
    }
    data.update(overrides)
    return data


def test_two_practitioners_saving_one_member_form_the_second_sees_both_and_can_resubmit(
    client, family, child, practitioner, teammate
):
    from django.test import Client

    bob = Client()
    client.force_login(practitioner)
    bob.force_login(teammate)
    url = f"/families/{family.pk}/members/{child.pk}/"
    alice_version = _hidden_version(client.get(url).content.decode())
    bob_version = _hidden_version(bob.get(url).content.decode())
    assert alice_version == bob_version == "1"

    first = client.post(url, _member_form(child, alice_version, school="Oak Primary"))
    assert first.status_code == 302

    second = bob.post(url, _member_form(child, bob_version, school="Elm Academy"))
    assert second.status_code == 409
    html = second.content.decode()
    assert "Saved now" in html
    assert "Oak Primary" in html  # what alice saved
    assert "Elm Academy" in html  # what bob typed, not lost
    assert "Someone else saved a change first" in html
    assert _hidden_version(html) == "2"
    assert Member.objects.get(pk=child.pk).school == "Oak Primary"

    resubmit = bob.post(url, _member_form(child, _hidden_version(html), school="Elm Academy"))
    assert resubmit.status_code == 302
    saved = Member.objects.get(pk=child.pk)
    assert (saved.school, saved.version) == ("Elm Academy", 3)


def _visit_form(visit, version: str, outcome: str) -> dict:
    day = timezone.localdate() - dt.timedelta(days=3)
    return {
        "version": version,
        "planned": "yes",
        "purpose": visit.purpose,
        "expected_outcome": visit.expected_outcome,
        "date_day": str(day.day),
        "date_month": str(day.month),
        "date_year": str(day.year),
        "time": "10:00",
        "status": "completed",
        "outcome": outcome,
    }


@pytest.fixture
def two_visit_editors(client, family, practitioner, teammate):
    from django.test import Client

    from visits.tests.factories import VisitFactory

    visit = VisitFactory(family=family, practitioner=practitioner, outcome="")
    bob = Client()
    client.force_login(practitioner)
    bob.force_login(teammate)
    return visit, client, bob, f"/families/{family.pk}/visits/{visit.pk}/"


def test_two_people_saving_one_visit_from_version_1_the_second_gets_a_conflict_page(two_visit_editors):
    visit, alice, bob, url = two_visit_editors
    assert alice.post(url, _visit_form(visit, "1", "Plan agreed with mum")).status_code == 302
    second = bob.post(url, _visit_form(visit, "1", "Nobody answered the door"))
    assert second.status_code == 409
    html = second.content.decode()
    assert "Saved now" in html
    assert "Plan agreed with mum" in html
    assert "Nobody answered the door" in html
    visit.refresh_from_db()
    assert (visit.outcome, visit.version) == ("Plan agreed with mum", 2)


def test_the_visit_edit_form_carries_its_version_so_a_second_editor_is_stopped(two_visit_editors):
    visit, alice, bob, url = two_visit_editors
    alice_version = _hidden_version(alice.get(url).content.decode())
    bob_version = _hidden_version(bob.get(url).content.decode())
    assert alice_version == bob_version == "1"
    assert alice.post(url, _visit_form(visit, alice_version, "Plan agreed with mum")).status_code == 302
    second = bob.post(url, _visit_form(visit, bob_version, "Nobody answered the door"))
    assert second.status_code == 409
    assert _hidden_version(second.content.decode()) == "2"
    visit.refresh_from_db()
    assert visit.outcome == "Plan agreed with mum"


def test_two_people_saving_one_appointment_form_the_second_sees_both(client, family, child, council, teammate):
    from django.test import Client

    from visits.tests.factories import AppointmentFactory

    appointment = AppointmentFactory(member=child, agency=council, notes="")
    practitioner = family.lead_professional
    bob = Client()
    client.force_login(practitioner)
    bob.force_login(teammate)
    url = f"/families/{family.pk}/appointments/{appointment.pk}/"
    assert _hidden_version(client.get(url).content.decode()) == "1"
    assert _hidden_version(bob.get(url).content.decode()) == "1"
    when = timezone.localtime(appointment.scheduled_for)

    def form(notes):
        return {
            "version": "1",
            "kind": appointment.kind,
            "date_day": str(when.day),
            "date_month": str(when.month),
            "date_year": str(when.year),
            "time": when.strftime("%H:%M"),
            "status": appointment.status,
            "notes": notes,
        }

    assert client.post(url, form("Weighed")).status_code == 302
    second = bob.post(url, form("Measured"))
    assert second.status_code == 409
    html = second.content.decode()
    assert "Saved now" in html and "Weighed" in html and "Measured" in html
    assert _hidden_version(html) == "2"
    appointment.refresh_from_db()
    assert (appointment.notes, appointment.version) == ("Weighed", 2)


# --- prompts: two managers deciding at once, through the page and the API -------------------------


@pytest.fixture
def open_prompt(family, child, manager):
    from escalation.models import EscalationPrompt, Flag

    flag = Flag.objects.create(family=family, member=child, rule="was_not_brought", severity="high", detail="Missed")
    return EscalationPrompt.objects.create(
        flag=flag, family=family, level="team_manager", assigned_to=manager, due=timezone.localdate() + dt.timedelta(5)
    )


@pytest.fixture
def deputy(team):
    user = UserFactory(username="deputy", team=team, agency=team.agency, role=Role.MANAGER)
    # Above the team manager, so both may decide (escalation.permissions): a co-manager may not.
    team.agency.head_of_service = user
    team.agency.save()
    return user


def test_the_second_manager_to_decide_on_a_prompt_page_sees_both_decisions(client, open_prompt, manager, deputy):
    from django.test import Client

    other = Client()
    client.force_login(manager)
    other.force_login(deputy)
    url = f"/prompts/{open_prompt.pk}/action/"
    first = client.post(url, {"action_taken": "Strategy meeting called", "rationale": "High risk"})
    assert first.status_code == 302
    second = other.post(url, {"action_taken": "Home visit today", "rationale": "Seen at school"})
    assert second.status_code == 409
    html = second.content.decode()
    assert "Saved now" in html
    assert "Strategy meeting called" in html
    assert "Home visit today" in html and "Seen at school" in html
    open_prompt.refresh_from_db()
    assert (open_prompt.status, open_prompt.action_taken) == ("actioned", "Strategy meeting called")


def test_the_second_manager_to_decide_through_the_api_gets_a_409_with_both(open_prompt, manager, deputy):
    url = f"/api/v1/escalations/{open_prompt.pk}/action/"
    first = token_client(manager).post(url, {"action_taken": "Strategy meeting called", "rationale": "High risk"})
    assert first.status_code == 200
    second = token_client(deputy).post(url, {"action_taken": "Home visit today", "rationale": "Seen at school"})
    assert second.status_code == 409
    body = second.json()
    assert body["current"] == {
        "status": "actioned",
        "action_taken": "Strategy meeting called",
        "rationale": "High risk",
    }
    assert body["attempted"] == {
        "status": "actioned",
        "action_taken": "Home visit today",
        "rationale": "Seen at school",
    }
    escalate = token_client(deputy).post(f"/api/v1/escalations/{open_prompt.pk}/escalate/", {"reason": "Too slow"})
    assert escalate.status_code == 409
    assert escalate.json()["current"]["status"] == "actioned"


def test_two_people_answering_significant_adults_the_second_gets_a_conflict_page(
    client, family, practitioner, teammate
):
    from django.test import Client

    from cases.models import Family

    bob = Client()
    client.force_login(practitioner)
    bob.force_login(teammate)
    url = f"/families/{family.pk}/significant-adults/"
    assert _hidden_version(client.get(url).content.decode()) == "1"
    assert _hidden_version(bob.get(url).content.decode()) == "1"
    first = client.post(
        url, {"version": "1", "significant_adults_confirmed": "yes", "significant_adults_note": "Mum: no new partner"}
    )
    assert first.status_code == 302
    second = bob.post(
        url, {"version": "1", "significant_adults_confirmed": "yes", "significant_adults_note": "Dad visits weekly"}
    )
    assert second.status_code == 409
    html = second.content.decode()
    assert "Mum: no new partner" in html and "Dad visits weekly" in html
    assert _hidden_version(html) == "2"
    assert Family.objects.get(pk=family.pk).significant_adults_note == "Mum: no new partner"
