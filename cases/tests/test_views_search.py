"""Search for people by name, tolerant of misspellings and aliases (PostgreSQL trigrams)."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from cases.tests.factories import FamilyFactory, MemberFactory, ShareFactory, TeamFactory

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.skipif(connection.vendor != "postgresql", reason="misspelling search needs pg_trgm"),
]

HTMX = {"HX-Request": "true"}


def _search(client, user, q, **kwargs):
    client.force_login(user)
    return client.post(reverse("search"), {"q": q}, **kwargs)


def _found(html: str) -> list[str]:
    """The people found, in the order shown."""
    return re.findall(
        r'<a class="govuk-link govuk-!-font-weight-bold" href="/families/\d+/#household">([^<]+)</a>', html
    )


@pytest.fixture
def other_family(other_team_user):
    """Another team's family with a child of the same name."""
    family = FamilyFactory(team=other_team_user.team, name="Smith family")
    MemberFactory(family=family, given_name="Kai", family_name="Smith", role="child")
    return family


def test_a_misspelt_name_finds_the_person(client, practitioner, family, child):
    child.date_of_birth = dt.date(2019, 3, 27)
    child.save()
    response = _search(client, practitioner, "Kai Smyth")
    assert response.status_code == 200
    html = response.content.decode()
    assert _found(html) == ["Kai Smith"]
    assert f'href="{reverse("family-detail", args=[family.pk])}#household"' in html
    assert "(child, born 27 Mar 2019)" in html
    assert f"Smith family · {family.reference}" in html
    assert 'value="Kai Smyth"' in html  # the query stays in the box


def test_an_alias_is_found_by_a_misspelling_too(client, practitioner, family):
    MemberFactory(family=family, given_name="Kaiden", family_name="Brown", aliases=["Kye Smith"], role="child")
    html = _search(client, practitioner, "Kye Smyth").content.decode()
    assert _found(html) == ["Kaiden Brown"]
    assert "also known as Kye Smith" in html


def test_best_match_first_and_unrelated_names_left_out(client, practitioner, family, child, team):
    MemberFactory(family=FamilyFactory(team=team, name="Smithson family"), given_name="Kay", family_name="Smithson")
    MemberFactory(family=FamilyFactory(team=team, name="Okafor family"), given_name="Zainab", family_name="Okafor")
    names = _found(_search(client, practitioner, "Kai Smith").content.decode())
    assert names[0] == "Kai Smith"
    assert "Zainab Okafor" not in names


def test_the_family_name_finds_everyone_in_the_family(client, practitioner, family, child, mother):
    assert sorted(_found(_search(client, practitioner, "Smith family").content.decode())) == ["Jade Smith", "Kai Smith"]


def test_other_teams_people_are_not_found(client, practitioner, other_team_user, family, child, other_family):
    html = _search(client, practitioner, "Kai Smith").content.decode()
    assert _found(html) == ["Kai Smith"]
    assert f"/families/{other_family.pk}/" not in html
    # ... and the other team finds only theirs.
    html = _search(client, other_team_user, "Kai Smith").content.decode()
    assert _found(html) == ["Kai Smith"]
    assert f"/families/{family.pk}/" not in html


def test_partner_finds_only_people_in_shared_families(client, partner, family, child, share, other_family, team):
    ended = FamilyFactory(team=team, name="Smith-Jones family")
    MemberFactory(family=ended, given_name="Kai", family_name="Smith-Jones", role="child")
    ShareFactory(family=ended, agency=partner.agency, ended_at=dt.datetime(2026, 1, 1, tzinfo=dt.UTC))
    html = _search(client, partner, "Kai Smith").content.decode()
    assert _found(html) == ["Kai Smith"]
    assert f"/families/{family.pk}/" in html
    assert f"/families/{other_family.pk}/" not in html
    assert f"/families/{ended.pk}/" not in html


def test_partner_without_a_share_finds_nobody(client, unshared_partner, family, child):
    html = _search(client, unshared_partner, "Kai Smith").content.decode()
    assert _found(html) == []
    assert "Nobody found for “Kai Smith”. Check the spelling, or try part of the name." in html


def test_admin_finds_people_in_every_team(client, admin_user, family, child, other_family):
    assert _found(_search(client, admin_user, "Kai Smith").content.decode()) == ["Kai Smith", "Kai Smith"]


def test_under_two_letters_asks_for_more(client, practitioner, family, child):
    html = _search(client, practitioner, "K").content.decode()
    assert "Type at least 2 letters." in html
    assert _found(html) == []
    html = _search(client, practitioner, "  ").content.decode()
    assert "Type at least 2 letters." not in html
    assert "Nobody found" not in html
    client.force_login(practitioner)
    html = client.get(reverse("search")).content.decode()
    assert '<h1 class="govuk-heading-l">Find a family or person</h1>' in html
    assert "Type at least 2 letters." not in html


def test_nothing_found_says_so_and_escapes_the_query(client, practitioner, family, child):
    html = _search(client, practitioner, "<script>alert(1)</script>").content.decode()
    assert "<script>alert(1)</script>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "Nobody found for" in html


def test_a_very_long_query_is_cut_short_not_an_error(client, practitioner, family, child):
    response = _search(client, practitioner, "Kai Smith" + "x" * 500)
    assert response.status_code == 200
    assert ("x" * 101) not in response.content.decode()


def test_htmx_request_gets_the_results_only(client, practitioner, family, child):
    response = _search(client, practitioner, "Kai Smyth", headers=HTMX)
    assert response.status_code == 200
    html = response.content.decode()
    assert "<html" not in html
    assert "<h1" not in html
    assert _found(html) == ["Kai Smith"]
    assert "Type at least 2 letters." in _search(client, practitioner, "K", headers=HTMX).content.decode()


def test_the_search_page_holds_the_htmx_target(client, practitioner):
    client.force_login(practitioner)
    html = client.get(reverse("search")).content.decode()
    assert 'hx-post="/search/"' in html
    assert 'hx-target="#search-results"' in html
    assert '<div id="search-results" aria-live="polite">' in html


def test_the_name_searched_for_is_never_in_a_url(client, practitioner, family):
    """A GET with ?q= (an old bookmark) searches for nothing: names travel in POST bodies only."""
    MemberFactory(family=family, given_name="Kai", family_name="Smith", role="child")
    client.force_login(practitioner)
    html = client.get(reverse("search"), {"q": "Kai"}).content.decode()
    assert 'method="post"' in html and "hx-push-url" not in html
    assert _found(html) == []


def test_anonymous_is_sent_to_sign_in(client):
    response = client.get(reverse("search"), {"q": "Kai"})
    assert response.status_code == 302
    assert response.url.startswith(f"{reverse('login')}?next=")


def test_search_query_count_does_not_grow_with_the_results(client, practitioner, family, team):
    """1 session, 2 request.user, 3 the people found with their family, 4 the audit log's VIEW rows."""
    client.force_login(practitioner)
    MemberFactory(family=family, given_name="Kai", family_name="Smith", role="child")

    def count() -> tuple[int, int]:
        with CaptureQueriesContext(connection) as ctx:
            response = client.post(reverse("search"), {"q": "Kai Smith"})
        return len(ctx.captured_queries), len(_found(response.content.decode()))

    few = count()
    for i in range(12):
        MemberFactory(family=FamilyFactory(team=team, name=f"Smith family {i}"), given_name="Kai", family_name="Smith")
    many = count()
    assert few == (4, 1)
    assert many == (4, 13)


def test_a_family_reference_finds_the_familys_people(client, practitioner, family, child):
    html = _search(client, practitioner, family.reference).content.decode()
    assert _found(html) == ["Kai Smith"]


def test_search_does_not_reach_across_teams_by_family_name(client, practitioner, team):
    other = FamilyFactory(team=TeamFactory(agency=team.agency), name="Okonkwo family")
    MemberFactory(family=other, given_name="Ada", family_name="Okonkwo")
    assert _found(_search(client, practitioner, "Okonkwo").content.decode()) == []
