"""Managers see who has looked at a child's record (DESIGN 6): the access log page, and the
"Who has looked at this record" section of the family page. Practitioners do not; outsiders
get 404 as for the record itself."""

from __future__ import annotations

import re

import pytest
from rest_framework.test import APIClient

from accounts.tests.factories import api_token_for
from audit.models import AuditEvent
from audit.selectors import family_access_by_person

pytestmark = pytest.mark.django_db

SECTION = "Who has looked at this record"


def token_client(user) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {api_token_for(user)}")
    return client


def _row_for(html: str, username: str) -> str:
    """The table row naming `username` (as "First Last (username)")."""
    for row in re.findall(r"<tr[^>]*>(.*?)</tr>", html, flags=re.S):
        if f"({username})" in row:
            return row
    raise AssertionError(f"no row for {username}")


def _times(row: str) -> int:
    cells = re.findall(r'govuk-table__cell--numeric">\s*(\d+)\s*<', row)
    assert len(cells) == 1, row
    return int(cells[0])


@pytest.fixture
def viewed(client, family, child, practitioner, partner, share):
    """alice opened the family page twice; the health visitors' system read it through the API once."""
    client.force_login(practitioner)
    assert client.get(f"/families/{family.pk}/").status_code == 200
    assert client.get(f"/families/{family.pk}/").status_code == 200
    client.logout()
    assert token_client(partner).get(f"/api/v1/families/{family.pk}/").status_code == 200
    return family


def test_the_manager_sees_who_opened_the_record_with_counts(client, viewed, manager, practitioner, partner):
    client.force_login(manager)
    response = client.get(f"/families/{viewed.pk}/access-log/")
    assert response.status_code == 200
    html = response.content.decode()
    assert SECTION in html
    assert _times(_row_for(html, "alice")) == 2
    assert _times(_row_for(html, "hv-system")) == 1
    assert "Northshire Health Visiting" in _row_for(html, "hv-system")
    # Every entry, with the route it came through.
    assert f"GET /api/v1/families/{viewed.pk}/" in html
    assert f"GET /families/{viewed.pk}/" in html


def test_the_access_log_page_lists_changes_too(client, viewed, manager, child, practitioner):
    token_client(practitioner).patch(f"/api/v1/members/{child.pk}/", {"school": "Oak Primary"}, format="json")
    client.force_login(manager)
    html = client.get(f"/families/{viewed.pk}/access-log/").content.decode()
    assert _times(_row_for(html, "alice")) == 3
    assert f"PATCH /api/v1/members/{child.pk}/" in html
    assert "Change" in html


def test_the_access_log_counts_per_person_from_the_selector(viewed, practitioner, partner):
    people = {row["actor__username"]: row["events"] for row in family_access_by_person(family_id=viewed.pk)}
    assert people == {"alice": 2, "hv-system": 1}


def test_the_family_page_shows_the_manager_who_has_looked(client, viewed, manager):
    client.force_login(manager)
    html = client.get(f"/families/{viewed.pk}/").content.decode()
    assert SECTION in html
    assert 'id="access-log"' in html
    assert "(alice)" in html
    assert "(hv-system)" in html
    assert f"/families/{viewed.pk}/access-log/" in html


@pytest.mark.parametrize("persona", ["practitioner", "teammate"])
def test_the_family_page_does_not_show_a_practitioner_who_has_looked(client, request, viewed, persona):
    client.force_login(request.getfixturevalue(persona))
    html = client.get(f"/families/{viewed.pk}/").content.decode()
    assert SECTION not in html
    assert 'id="access-log"' not in html
    assert f"/families/{viewed.pk}/access-log/" not in html


def test_the_family_page_does_not_show_a_partner_who_has_looked(client, viewed, partner):
    client.force_login(partner)
    html = client.get(f"/families/{viewed.pk}/").content.decode()
    assert SECTION not in html


@pytest.mark.parametrize(("persona", "status"), [("practitioner", 403), ("teammate", 403), ("partner", 403)])
def test_people_who_see_the_record_but_are_not_managers_are_refused_the_log(client, request, viewed, persona, status):
    client.force_login(request.getfixturevalue(persona))
    assert client.get(f"/families/{viewed.pk}/access-log/").status_code == status


@pytest.mark.parametrize("persona", ["other_team_user", "unshared_partner"])
def test_outsiders_get_404_on_the_log(client, request, viewed, persona):
    client.force_login(request.getfixturevalue(persona))
    before = AuditEvent.objects.count()
    assert client.get(f"/families/{viewed.pk}/access-log/").status_code == 404
    assert AuditEvent.objects.count() == before


def test_a_manager_of_another_team_gets_404(client, viewed, council):
    from cases.models import Role
    from cases.tests.factories import TeamFactory, UserFactory

    elsewhere = UserFactory(username="morgan", team=TeamFactory(agency=council), agency=council, role=Role.MANAGER)
    client.force_login(elsewhere)
    assert client.get(f"/families/{viewed.pk}/access-log/").status_code == 404


def test_an_unknown_family_is_404(client, manager):
    client.force_login(manager)
    assert client.get("/families/999999/access-log/").status_code == 404


def test_anonymous_is_sent_to_sign_in(client, viewed):
    response = client.get(f"/families/{viewed.pk}/access-log/")
    assert response.status_code == 302
    assert "/accounts/login/" in response["Location"]


def test_the_admin_sees_the_log(client, viewed, admin_user):
    client.force_login(admin_user)
    response = client.get(f"/families/{viewed.pk}/access-log/")
    assert response.status_code == 200
    assert _times(_row_for(response.content.decode(), "alice")) == 2


def test_an_empty_log_says_nobody_has_opened_it(client, family, manager):
    client.force_login(manager)
    html = client.get(f"/families/{family.pk}/access-log/").content.decode()
    assert "Nobody has opened this record yet." in html
