"""Restricted records (DESIGN 6): a family seen only by the people named on it.

Everyone else (teammates, the head of service, partners with a share, admins) gets 404 on every
read path, and each refused attempt on the restricted family is a security event naming it.
"""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from audit.models import AuditEvent, SecurityEvent
from cases import restriction, selectors
from cases.access import visible_families, visible_family_count
from cases.models import Family, Role
from cases.tests.factories import FamilyFactory, MemberFactory, UserFactory
from escalation import selectors as escalation_selectors
from escalation.models import EscalationPrompt
from escalation.services.checks import run_checks_in_process
from referrals.tests.factories import ReferralFactory
from visits.tests.factories import AppointmentFactory, VisitFactory

REASON = "A member of staff's own family."


@pytest.fixture
def api():
    """An API client signed in as a given user (how it authenticates is not under test here)."""
    from rest_framework.test import APIClient

    client = APIClient()

    def as_user(user):
        client.force_authenticate(user)
        return client

    client.as_user = as_user
    return client


@pytest.fixture
def restricted(family, manager, practitioner):
    """The Smith family, restricted by Mandy to herself and Alice (who leads it)."""
    return restriction.restriction_set(actor=manager, family=family, people=[practitioner], reason=REASON)


@pytest.fixture
def records(family, child, practitioner, council):
    """A referral, a visit, appointments (Kai not brought twice: a flag and prompts)."""
    now = timezone.now()
    ReferralFactory(family=family)
    VisitFactory(family=family, practitioner=practitioner)
    for days in (3, 9):
        AppointmentFactory(
            member=child, agency=council, status="was_not_brought", scheduled_for=now - dt.timedelta(days=days)
        )
    run_checks_in_process(family_ids=[family.pk])
    assert EscalationPrompt.objects.filter(family=family).exists()
    return family


def _refusals(family):
    return SecurityEvent.objects.filter(family_id=family.pk, kind="refused")


# --- the rule -------------------------------------------------------------------------------------


def test_only_the_people_named_see_a_restricted_family(
    restricted, practitioner, teammate, manager, other_team_user, admin_user, partner, share
):
    for user in (practitioner, manager):
        assert restricted in visible_families(user), user
    for user in (teammate, other_team_user, admin_user, partner):
        assert restricted not in visible_families(user), user
    assert visible_family_count(partner) == 0


def test_a_grant_does_not_widen_what_the_relation_allows(family, manager, other_team_user):
    from guardian.shortcuts import assign_perm

    restriction.restriction_set(actor=manager, family=family, people=[family.lead_professional], reason=REASON)
    assign_perm("cases.view_restricted_family", other_team_user, family)  # a stray grant, outside the service
    assert family not in visible_families(other_team_user)


def test_the_head_of_service_is_not_named_and_does_not_see_it(restricted, council):
    head = UserFactory(username="hos", team=restricted.team, agency=council, role=Role.MANAGER)
    council.head_of_service = head
    council.save()
    assert restricted not in visible_families(head)


def test_an_unrestricted_family_is_seen_as_before(family, teammate, admin_user):
    assert family in visible_families(teammate)
    assert family in visible_families(admin_user)


# --- every read path ------------------------------------------------------------------------------

API_LISTS = ["families", "members", "referrals", "visits", "appointments", "flags", "escalations"]


@pytest.mark.parametrize("resource", API_LISTS)
def test_api_lists_leave_a_restricted_family_out(resource, records, restricted, api, teammate, practitioner):
    rows = api.as_user(teammate).get(f"/api/v1/{resource}/").json()["results"]
    assert rows == []
    named = api.as_user(practitioner).get(f"/api/v1/{resource}/").json()["results"]
    assert named


def _detail_urls(family):
    from escalation.models import Flag
    from referrals.models import Referral
    from visits.models import Appointment, Visit

    return [
        f"/api/v1/families/{family.pk}/",
        f"/api/v1/families/{family.pk}/members/",
        f"/api/v1/families/{family.pk}/chronology/",
        f"/api/v1/families/{family.pk}/lead-professional/",
        f"/api/v1/families/{family.pk}/restriction/",
        f"/api/v1/members/{family.members.first().pk}/",
        f"/api/v1/referrals/{Referral.objects.get(family=family).pk}/",
        f"/api/v1/visits/{Visit.objects.get(family=family).pk}/",
        f"/api/v1/appointments/{Appointment.objects.filter(family=family).first().pk}/",
        f"/api/v1/flags/{Flag.objects.filter(family=family).first().pk}/",
        f"/api/v1/escalations/{EscalationPrompt.objects.filter(family=family).first().pk}/",
        f"/families/{family.pk}/",
        f"/families/{family.pk}/access-log/",
        f"/families/{family.pk}/restriction/",
        f"/families/{family.pk}/visits/add/",
        f"/prompts/{EscalationPrompt.objects.filter(family=family).first().pk}/",
    ]


def test_every_detail_is_404_to_the_unnamed_and_each_attempt_is_logged_with_the_family(
    records, restricted, api, client, teammate, admin_user, practitioner
):
    urls = _detail_urls(restricted)
    for user in (teammate, admin_user):
        client.force_login(user)
        for url in urls:
            caller = api.as_user(user) if url.startswith("/api/") else client
            before = _refusals(restricted).filter(user=user).count()
            assert caller.get(url).status_code == 404, (user, url)
            assert _refusals(restricted).filter(user=user).count() > before, (user, url)
    client.force_login(practitioner)
    for url in urls:
        if "access-log" in url or "restriction/" in url and not url.startswith("/api/"):
            continue  # for managers
        caller = api.as_user(practitioner) if url.startswith("/api/") else client
        assert caller.get(url).status_code == 200, url


def test_a_refused_attempt_is_one_security_event_with_the_family_and_the_address(restricted, client, teammate):
    client.force_login(teammate)
    before = SecurityEvent.objects.count()
    assert client.get(f"/families/{restricted.pk}/", REMOTE_ADDR="192.0.2.7").status_code == 404
    made = SecurityEvent.objects.order_by("-id")[: SecurityEvent.objects.count() - before]
    assert [(e.kind, e.family_id, e.ip_address, e.status_code) for e in made] == [
        ("refused", restricted.pk, "192.0.2.7", 404)
    ]


def test_an_ordinary_outsider_miss_names_no_family(family, api, other_team_user):
    assert api.as_user(other_team_user).get(f"/api/v1/families/{family.pk}/").status_code == 404
    assert not SecurityEvent.objects.filter(family_id=family.pk).exists()


def test_pages_leave_a_restricted_family_out(records, restricted, client, teammate, manager, practitioner):
    client.force_login(teammate)
    assert restricted.name not in client.get("/").content.decode()
    assert restricted.name not in client.post("/search/", {"q": "Smith"}).content.decode()
    # The manager is named: the prompts show. Unnamed, the head of service would see none.
    client.force_login(manager)
    dashboard = client.get("/dashboard/").content.decode()
    assert restricted.reference in dashboard


def test_the_dashboard_counts_charts_workload_and_export_leave_it_out(records, restricted, client, council, manager):
    head = UserFactory(username="hos", team=restricted.team, agency=council, role=Role.MANAGER)
    council.head_of_service = head
    council.save()
    client.force_login(head)
    page = client.get("/dashboard/").content.decode()
    assert restricted.reference not in page
    export = b"".join(client.get("/dashboard/export.csv").streaming_content).decode()
    assert restricted.reference not in export
    filters = escalation_selectors.DashboardFilters()
    assert escalation_selectors.dashboard_summary(user=head, filters=filters).counts["total"] == 0
    workload = escalation_selectors.team_workload(user=head, team_id=restricted.team_id)
    assert all(m["n_families"] == 0 and m["n_prompts"] == 0 for m in workload)
    assert sum(escalation_selectors.prompt_ages(user=head).get("age_counts", [0])) == 0
    # The charts' cache is shared only by people with the same view of restricted families.
    teams = escalation_selectors.visible_team_list(user=manager)
    assert escalation_selectors.chart_scope(user=manager, teams=teams) != escalation_selectors.chart_scope(
        user=head, teams=escalation_selectors.visible_team_list(user=head)
    )


def test_the_manager_sees_the_refused_attempts_on_the_access_log(restricted, api, client, teammate, manager):
    api.as_user(teammate).get(f"/api/v1/families/{restricted.pk}/")
    client.force_login(manager)
    page = client.get(f"/families/{restricted.pk}/access-log/").content.decode()
    assert "Refused attempts" in page
    assert "bob" in page


# --- restricting and lifting --------------------------------------------------------------------


def test_a_manager_restricts_through_the_api_and_it_is_audited(family, api, manager, practitioner, teammate):
    response = api.as_user(manager).put(
        f"/api/v1/families/{family.pk}/restriction/",
        {"people": [practitioner.pk], "reason": REASON},
        format="json",
    )
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["restricted"] is True
    assert {p["id"] for p in body["people"]} == {practitioner.pk, manager.pk}  # the manager always included
    family.refresh_from_db()
    assert (family.restricted, family.restriction_reason, family.version) == (True, REASON, 2)
    change = AuditEvent.objects.get(family_id=family.pk, action="change", model="cases.family")
    assert change.changes["restricted"] == {"from": False, "to": True}
    assert change.changes["restriction_reason"]["to"] == REASON
    assert api.as_user(teammate).get(f"/api/v1/families/{family.pk}/").status_code == 404
    # The grants are django-guardian's: its backend answers per-object permission checks too.
    assert practitioner.has_perm("cases.view_restricted_family", family)
    assert not teammate.has_perm("cases.view_restricted_family", family)


def test_only_a_manager_of_the_team_may_restrict(family, api, practitioner, partner, share, admin_user):
    for user in (practitioner, partner, admin_user):
        response = api.as_user(user).put(
            f"/api/v1/families/{family.pk}/restriction/", {"people": [], "reason": REASON}, format="json"
        )
        assert response.status_code == 403, user
    assert not Family.objects.get(pk=family.pk).restricted


@pytest.mark.parametrize(
    ("people", "reason", "field"),
    [
        (["other_team_user"], REASON, "people"),
        (["admin_user"], REASON, "people"),
        (["inactive"], REASON, "people"),
        ([999999], REASON, "people"),
        (["teammate"], REASON, "people"),  # Alice leads the family and is not named
        (["practitioner"], "", "reason"),
        ("nobody", REASON, "people"),
    ],
)
def test_bad_restrictions_are_400_with_field_errors(people, reason, field, family, api, manager, request, team):
    def user_id(name):
        if isinstance(name, int):
            return name
        if name == "inactive":
            return UserFactory(username="gone", team=team, agency=team.agency, is_active=False).pk
        return request.getfixturevalue(name).pk

    ids = people if isinstance(people, str) else [user_id(p) for p in people]
    response = api.as_user(manager).put(
        f"/api/v1/families/{family.pk}/restriction/", {"people": ids, "reason": reason}, format="json"
    )
    assert response.status_code == 400, response.content
    assert field in response.json()
    assert not Family.objects.get(pk=family.pk).restricted


def test_a_partner_with_a_share_may_be_named(family, share, partner, manager, practitioner, api):
    restriction.restriction_set(actor=manager, family=family, people=[practitioner, partner], reason=REASON)
    assert api.as_user(partner).get(f"/api/v1/families/{family.pk}/").status_code == 200


def test_lifting_restores_everyone_and_is_audited(restricted, api, manager, teammate):
    response = api.as_user(manager).delete(
        f"/api/v1/families/{restricted.pk}/restriction/", {"reason": "Staff member left"}, format="json"
    )
    assert response.status_code == 200
    assert response.json()["restricted"] is False
    assert api.as_user(teammate).get(f"/api/v1/families/{restricted.pk}/").status_code == 200
    lifted = AuditEvent.objects.filter(family_id=restricted.pk, action="change").order_by("-id").first()
    assert lifted.changes["restricted"] == {"from": True, "to": False}
    assert lifted.changes["lift_reason"]["to"] == "Staff member left"


def test_get_shows_who_is_named_to_those_named(restricted, api, practitioner, manager):
    body = api.as_user(practitioner).get(f"/api/v1/families/{restricted.pk}/restriction/").json()
    assert body["reason"] == REASON
    assert {p["id"] for p in body["people"]} == {practitioner.pk, manager.pk}


def test_prompts_assigned_to_someone_not_named_go_to_the_restricting_manager(records, manager, practitioner, team):
    other_manager = UserFactory(username="max", team=team, agency=team.agency, role=Role.MANAGER)
    EscalationPrompt.objects.filter(family=records).update(assigned_to=other_manager)
    restriction.restriction_set(actor=manager, family=records, people=[practitioner], reason=REASON)
    assert set(EscalationPrompt.objects.filter(family=records).values_list("assigned_to", flat=True)) == {manager.pk}
    # Each prompt's own history says it was handed on, by whom and why.
    for prompt in EscalationPrompt.objects.filter(family=records):
        last = prompt.events.order_by("-id").first()
        assert (last.kind, last.actor_id) == ("reassigned", manager.pk)
        assert "not named" in last.reason


def test_a_named_person_can_still_open_the_family(restricted, client, practitioner):
    client.force_login(practitioner)
    page = client.get(f"/families/{restricted.pk}/").content.decode()
    assert "Restricted record: only the people named can see it" in page


def test_restrict_page_for_managers(family, client, manager, practitioner, teammate):
    client.force_login(manager)
    assert "Restrict access" in client.get(f"/families/{family.pk}/").content.decode()
    form = client.get(f"/families/{family.pk}/restriction/")
    assert form.status_code == 200
    assert 'type="checkbox"' in form.content.decode()
    refused = client.post(f"/families/{family.pk}/restriction/", {"people": [practitioner.pk], "reason": ""})
    assert refused.status_code == 200
    assert "govuk-error-summary" in refused.content.decode()
    saved = client.post(f"/families/{family.pk}/restriction/", {"people": [practitioner.pk], "reason": REASON})
    assert saved.status_code == 302
    assert Family.objects.get(pk=family.pk).restricted
    lifted = client.post(f"/families/{family.pk}/restriction/lift/", {"reason": "No longer needed"})
    assert lifted.status_code == 302
    assert not Family.objects.get(pk=family.pk).restricted
    client.force_login(practitioner)
    assert client.get(f"/families/{family.pk}/restriction/").status_code == 403


def test_a_restricted_family_in_search_and_chronology_for_the_named(records, restricted, practitioner):
    assert [m.family_id for m in selectors.search_people(user=practitioner, query="Smith")]


def test_member_lists_for_the_unnamed(records, restricted, teammate):
    MemberFactory(family=FamilyFactory(team=restricted.team), family_name="Smith")
    assert all(m.family_id != restricted.pk for m in selectors.member_list(user=teammate))


def test_a_prompt_the_checks_raise_goes_to_the_restricting_manager_when_its_assignee_is_not_named(
    family, child, council, health_agency, manager, practitioner, team
):
    # Mandy is the team's first manager, so the team manager's prompts go to her; Max restricts the
    # family without naming her.
    max_ = UserFactory(username="max", team=team, agency=team.agency, role=Role.MANAGER)
    restriction.restriction_set(actor=max_, family=family, people=[practitioner], reason=REASON)
    now = timezone.now()
    for agency, days in ((health_agency, 3), (council, 9)):  # two agencies: a high flag
        AppointmentFactory(
            member=child, agency=agency, status="was_not_brought", scheduled_for=now - dt.timedelta(days=days)
        )
    run_checks_in_process(family_ids=[family.pk])
    prompt = EscalationPrompt.objects.get(family=family, flag__rule="was_not_brought")
    assert prompt.level == "team_manager"
    assert prompt.assigned_to_id == max_.pk


def test_the_lead_professional_of_a_restricted_family_must_be_named(restricted, api, manager, teammate):
    response = api.as_user(manager).put(
        f"/api/v1/families/{restricted.pk}/lead-professional/", {"user": teammate.pk}, format="json"
    )
    assert response.status_code == 400, response.content
    assert Family.objects.get(pk=restricted.pk).lead_professional_id != teammate.pk


def test_a_lift_reason_too_long_is_shown_as_an_error(restricted, client, manager):
    client.force_login(manager)
    response = client.post(f"/families/{restricted.pk}/restriction/lift/", {"reason": "x" * 3000})
    assert response.status_code == 200
    assert "govuk-error-summary" in response.content.decode()
    assert Family.objects.get(pk=restricted.pk).restricted


def test_a_prompt_handed_on_for_lack_of_access_goes_to_someone_named(records, manager, practitioner, teammate, team):
    from escalation.services.reassign import reassign_prompts_without_access

    # Mandy is the team's first manager; Max restricts the family without naming her.
    max_ = UserFactory(username="max", team=team, agency=team.agency, role=Role.MANAGER)
    restriction.restriction_set(actor=max_, family=records, people=[practitioner], reason=REASON)
    prompt = EscalationPrompt.objects.filter(family=records, status="open").first()
    EscalationPrompt.objects.filter(pk=prompt.pk).update(assigned_to=teammate)  # Bob is not named
    successors = reassign_prompts_without_access(actor=None, family_ids=[records.pk])
    assert [p.assigned_to_id for p in successors] == [max_.pk]
