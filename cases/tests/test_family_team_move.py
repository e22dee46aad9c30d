"""Moving a family between teams (issue 14, item 5): it takes the family (and its confidential
referrer) out of one team's sight and into another's. Within the agency a family moves only to a
team the mover manages; to another agency's team only an administrator moves it; practitioners
never. Refusals are a 400 under `team` in plain words, and nothing changes."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from cases.models import Family, Role
from cases.tests.factories import AgencyFactory, TeamFactory, UserFactory

pytestmark = pytest.mark.django_db


def _api(user) -> APIClient:
    # Signed in without a token: what is tested here is the rule, not how the caller authenticates.
    client = APIClient()
    client.force_authenticate(user)
    return client


def _move(user, family, team):
    return _api(user).patch(f"/api/v1/families/{family.pk}/", {"team": team.pk}, format="json")


def test_a_manager_cannot_move_a_family_to_another_agencys_team(manager, family, team):
    police_team = TeamFactory(agency=AgencyFactory(name="Northshire Police"), name="Public Protection")
    response = _move(manager, family, police_team)
    assert response.status_code == 400, response.content
    assert response.json()["team"] == [
        "A family cannot be moved to another agency's team here: ask an administrator to transfer it."
    ]
    assert Family.objects.get(pk=family.pk).team == team


def test_a_manager_cannot_move_a_family_to_a_team_they_do_not_manage(manager, family, team, council):
    south = TeamFactory(agency=council, name="Assessment Team South")
    response = _move(manager, family, south)
    assert response.status_code == 400, response.content
    assert response.json()["team"] == ["You can move a family only to a team you manage."]
    assert Family.objects.get(pk=family.pk).team == team


def test_a_practitioner_cannot_move_a_family(practitioner, family, team, council):
    south = TeamFactory(agency=council, name="Assessment Team South")
    response = _move(practitioner, family, south)
    assert response.status_code == 400
    assert response.json()["team"] == ["Only a manager can move a family to another team."]
    assert Family.objects.get(pk=family.pk).team == team


def test_the_head_of_service_moves_a_family_between_the_agencys_teams(family, team, council):
    head = UserFactory(username="hos", team=team, agency=council, role=Role.MANAGER)
    council.head_of_service = head
    council.save(update_fields=["head_of_service"])
    south = TeamFactory(agency=council, name="Assessment Team South")
    response = _move(head, family, south)
    assert response.status_code == 200, response.content
    assert Family.objects.get(pk=family.pk).team == south


def test_moving_takes_the_lead_role_from_someone_who_can_no_longer_see_the_family(
    family, team, council, practitioner, django_capture_on_commit_callbacks
):
    """The lead (alice, of the old team) cannot see the family in its new team: she stops being
    lead at once, as when a share ends."""
    head = UserFactory(username="hos", team=team, agency=council, role=Role.MANAGER)
    council.head_of_service = head
    council.save(update_fields=["head_of_service"])
    south = TeamFactory(agency=council, name="Assessment Team South")
    with django_capture_on_commit_callbacks(execute=True):
        response = _move(head, family, south)
    assert response.status_code == 200, response.content
    saved = Family.objects.get(pk=family.pk)
    assert saved.team == south
    assert saved.lead_professional is None


def test_an_admin_may_move_a_family_to_another_agency(admin_user, family):
    police_team = TeamFactory(agency=AgencyFactory(name="Northshire Police"), name="Public Protection")
    response = _move(admin_user, family, police_team)
    assert response.status_code == 200, response.content
    assert Family.objects.get(pk=family.pk).team == police_team


def test_a_lead_professional_from_an_agency_without_a_share_is_refused(manager, family, unshared_partner):
    response = _api(manager).patch(
        f"/api/v1/families/{family.pk}/", {"lead_professional": unshared_partner.pk}, format="json"
    )
    assert response.status_code == 400
    assert "lead_professional" in response.json()
    assert Family.objects.get(pk=family.pk).lead_professional_id != unshared_partner.pk
