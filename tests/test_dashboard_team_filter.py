"""The dashboard's ?team= is limited to the teams the manager may see: another team's workload
(its practitioners' names and caseloads) is never shown."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.django_db


def test_another_teams_workload_is_not_shown(client, manager, practitioner, other_team_user):
    client.force_login(manager)
    response = client.get("/dashboard/", {"team": other_team_user.team_id})
    assert response.status_code == 200
    html = response.content.decode()
    assert other_team_user.username not in html
    assert other_team_user.get_full_name() not in html
    assert practitioner.get_full_name() in html  # the manager's own team instead
