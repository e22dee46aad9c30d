"""Related-field choices (issue 14, item 13). The browsable API showed a partner the whole staff
directory in the lead-professional form, deactivated accounts and other agencies included. Partners
get JSON only; the browsable API renders no HTML forms (the raw JSON box only); and every related
field accepts only what the caller may see."""

from __future__ import annotations

import re

import pytest

from cases.models import Role
from cases.tests.factories import UserFactory

pytestmark = pytest.mark.django_db

HTML = "text/html"


@pytest.fixture
def strangers(council, other_team_user, unshared_partner, team):
    gone = UserFactory(username="deactivated-dave", team=team, agency=council, role=Role.PRACTITIONER, is_active=False)
    return [other_team_user, unshared_partner, gone]


@pytest.mark.parametrize(
    "path", ["/api/v1/families/", "/api/v1/families/{id}/", "/api/v1/families/{id}/lead-professional/"]
)
def test_a_partner_gets_json_even_when_asking_for_html(api, partner, share, family, strangers, path):
    response = api.as_user(partner).get(path.format(id=family.pk), HTTP_ACCEPT=HTML)
    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/json")
    for user in strangers:
        assert user.username not in response.content.decode()


@pytest.mark.parametrize(
    "path", ["/api/v1/families/{id}/lead-professional/", "/api/v1/visits/", "/api/v1/appointments/"]
)
def test_the_browsable_api_lists_no_names_in_forms(client, practitioner, family, child, strangers, path):
    client.force_login(practitioner)
    response = client.get(path.format(id=family.pk), HTTP_ACCEPT=HTML)
    assert response.status_code == 200
    page = response.content.decode()
    # The raw JSON box's content-type choice is the only select left.
    assert re.findall(r'<select name="([^"]+)"', page) in ([], ["_content_type"])
    for user in strangers:
        assert user.username not in page


def test_a_lead_professional_must_be_someone_the_caller_may_see(api, practitioner, teammate, family, strangers):
    client = api.as_user(practitioner)
    for user in strangers:
        response = client.patch(f"/api/v1/families/{family.pk}/", {"lead_professional": user.pk})
        assert response.status_code == 400, (user.username, response.content)
        assert "lead_professional" in response.json()
    assert client.patch(f"/api/v1/families/{family.pk}/", {"lead_professional": teammate.pk}).status_code == 200


def test_members_of_an_unseen_family_are_not_choices(api, practitioner, family, other_team_user):
    from cases.tests.factories import FamilyFactory, MemberFactory

    hidden = MemberFactory(family=FamilyFactory(team=other_team_user.team), role="child")
    response = api.as_user(practitioner).post(
        "/api/v1/appointments/", {"member": hidden.pk, "kind": "gp", "scheduled_for": "2026-03-02T10:00:00Z"}
    )
    assert response.status_code == 400
    assert "member" in response.json()
