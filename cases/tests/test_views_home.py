"""The browser shell (sign in, sign out, our own static files) and the home page: my caseload."""

from __future__ import annotations

import datetime as dt
import re
from html.parser import HTMLParser
from pathlib import Path

import pytest
from django.conf import settings
from django.contrib.staticfiles import finders
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import dateformat, timezone

from cases.models import FamilyLevel, FamilyStatus
from cases.tests.factories import FamilyFactory, ShareFactory, TeamFactory, UserFactory
from escalation.models import Flag
from visits.models import VisitStatus
from visits.tests.factories import VisitFactory

pytestmark = pytest.mark.django_db

PASSWORD = "correct-horse-battery"  # cases.tests.factories.UserFactory
HTMX = {"HX-Request": "true"}
PAGE_SIZE = 25  # cases.views.caseload.PAGE_SIZE


class _Assets(HTMLParser):
    """Collects what a page loads: script src, stylesheet/icon href, and inline script bodies."""

    def __init__(self):
        super().__init__()
        self.urls: list[str] = []
        self.inline_scripts = 0
        self._in_script_without_src = False

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "script":
            if attrs.get("src"):
                self.urls.append(attrs["src"])
            else:
                self._in_script_without_src = True
        elif tag == "link" and attrs.get("href"):
            self.urls.append(attrs["href"])
        elif tag in ("img", "iframe") and attrs.get("src"):
            self.urls.append(attrs["src"])

    def handle_endtag(self, tag):
        if tag == "script":
            self._in_script_without_src = False

    def handle_data(self, data):
        if self._in_script_without_src and data.strip():
            self.inline_scripts += 1


def _assets(html: str) -> _Assets:
    parser = _Assets()
    parser.feed(html)
    return parser


def _assert_served_by_us(html: str) -> None:
    assets = _assets(html)
    assert assets.urls, "the page loads no CSS or JS at all"
    for url in assets.urls:
        assert not url.startswith(("http://", "https://", "//")), f"{url} is loaded from another site"
        assert url.startswith(settings.STATIC_URL), url
        assert finders.find(url.removeprefix(settings.STATIC_URL)), f"{url} is not in the static files"
    # The Content Security Policy will forbid inline scripts.
    assert assets.inline_scripts == 0


def _day(value: dt.datetime) -> str:
    """A datetime as the caseload shows it (`j M Y`, local time)."""
    return dateformat.format(timezone.localtime(value), "j M Y")


def _row_names(html: str) -> list[str]:
    """The family names in the caseload table, in the order shown."""
    return re.findall(r'<a class="govuk-link" href="/families/\d+/">([^<]+)</a>', html)


def _row(html: str, family_name: str) -> str:
    """The HTML of one family's row in the caseload table."""
    for row in re.findall(r'<tr class="govuk-table__row">(.*?)</tr>', html, flags=re.S):
        if f">{family_name}</a>" in row:
            return row
    raise AssertionError(f"{family_name} is not in the caseload")


def _flag(family, severity: str, rule: str, **kwargs) -> Flag:
    return Flag.objects.create(family=family, rule=rule, severity=severity, detail=f"{rule} detail", **kwargs)


# --- sign in ---------------------------------------------------------------------------------


def test_anonymous_home_redirects_to_sign_in(client):
    response = client.get("/")
    assert response.status_code == 302
    assert response.url == f"{reverse('login')}?next=/"


def test_sign_in_page_has_labelled_fields_and_no_errors(client):
    response = client.get(reverse("login"))
    assert response.status_code == 200
    html = response.content.decode()
    assert '<label class="govuk-label" for="id_username">Username</label>' in html
    assert '<label class="govuk-label" for="id_password">Password</label>' in html
    assert 'autocomplete="username"' in html
    assert 'autocomplete="current-password"' in html
    assert "govuk-error-summary" not in html
    assert html.count('class="govuk-button"') == 1  # one primary button
    assert "<title>Sign in – Safeguarding case record</title>" in html


def test_wrong_password_shows_error_summary_linked_to_the_field(client, practitioner):
    response = client.post(reverse("login"), {"username": "alice", "password": "not-her-password"})
    assert response.status_code == 200
    html = response.content.decode()
    assert "govuk-error-summary" in html
    assert '<a href="#id_username">The username or password is not right.' in html
    assert 'class="govuk-error-message"' in html
    assert 'aria-describedby="id_username-error"' in html
    assert "<title>Error: Sign in" in html
    assert 'value="alice"' in html  # the username is kept ...
    assert "not-her-password" not in html  # ... the password is not
    assert "_auth_user_id" not in client.session


def test_empty_form_links_each_error_to_its_field(client):
    response = client.post(reverse("login"), {"username": "", "password": ""})
    assert response.status_code == 200
    html = response.content.decode()
    assert '<a href="#id_username">Enter your username</a>' in html
    assert '<a href="#id_password">Enter your password</a>' in html


def test_sign_in_goes_to_home(client, practitioner):
    response = client.post(reverse("login"), {"username": "alice", "password": PASSWORD})
    assert response.status_code == 302
    assert response.url == reverse("home")
    assert client.session["_auth_user_id"] == str(practitioner.pk)


def test_signed_in_user_visiting_sign_in_goes_home(client, practitioner):
    client.force_login(practitioner)
    response = client.get(reverse("login"))
    assert response.status_code == 302
    assert response.url == reverse("home")


# --- sign out --------------------------------------------------------------------------------


def test_sign_out_by_post_returns_to_sign_in(client, practitioner):
    client.force_login(practitioner)
    response = client.post(reverse("logout"), follow=True)
    assert response.redirect_chain == [(reverse("login"), 302)]
    html = response.content.decode()
    assert "govuk-notification-banner--success" in html
    assert "You have signed out." in html
    assert client.get("/").status_code == 302  # the session is gone


def test_sign_out_refuses_get(client, practitioner):
    client.force_login(practitioner)
    assert client.get(reverse("logout")).status_code == 405
    assert client.get("/").status_code == 200  # still signed in


# --- the caseload: who sees what -------------------------------------------------------------


@pytest.mark.parametrize("persona", ["practitioner", "teammate", "manager", "admin_user"])
def test_owning_team_and_admin_see_the_family_on_their_caseload(client, request, family, persona):
    client.force_login(request.getfixturevalue(persona))
    response = client.get("/")
    assert response.status_code == 200
    html = response.content.decode()
    assert _row_names(html) == ["Smith family"]
    assert "<title>My caseload – Safeguarding case record</title>" in html
    assert f'href="{reverse("family-create")}"' in html  # the owning team can add families


def test_other_team_does_not_see_the_family(client, other_team_user, family):
    client.force_login(other_team_user)
    response = client.get("/")
    assert response.status_code == 200
    html = response.content.decode()
    assert "Smith family" not in html
    assert "No families match." in html


def test_partner_sees_only_families_currently_shared_with_their_agency(client, partner, family, share, team):
    today = timezone.localdate()
    ShareFactory(
        family=FamilyFactory(team=team, name="Expired share family"),
        agency=partner.agency,
        starts=today - dt.timedelta(days=60),
        ends=today - dt.timedelta(days=1),
    )
    ShareFactory(
        family=FamilyFactory(team=team, name="Ended share family"), agency=partner.agency, ended_at=timezone.now()
    )
    ShareFactory(
        family=FamilyFactory(team=team, name="Future share family"),
        agency=partner.agency,
        starts=today + dt.timedelta(days=3),
    )
    ShareFactory(family=FamilyFactory(team=team, name="Police only family"), agency__name="Northshire Police")
    FamilyFactory(team=team, name="Unshared family")
    client.force_login(partner)

    response = client.get("/")

    assert response.status_code == 200
    html = response.content.decode()
    assert _row_names(html) == ["Smith family"]
    assert "Families shared with Northshire Health Visiting" in html
    assert f'href="{reverse("family-create")}"' not in html  # partners do not add families
    assert 'name="mine"' not in html  # "only families I lead" is for the owning team


def test_partner_without_a_share_sees_no_families(client, unshared_partner, family):
    client.force_login(unshared_partner)
    html = client.get("/").content.decode()
    assert "Smith family" not in html
    assert "No families match." in html


# --- the caseload: order and rows -------------------------------------------------------------


def test_families_i_lead_come_first_then_my_teams(client, practitioner, teammate, team):
    FamilyFactory(team=team, name="Abbott family", lead_professional=teammate)
    FamilyFactory(team=team, name="Young family", lead_professional=practitioner)
    FamilyFactory(team=team, name="Brown family", lead_professional=None)
    FamilyFactory(team=team, name="Zeta family", lead_professional=practitioner)
    client.force_login(practitioner)

    html = client.get("/", {"sort": "name"}).content.decode()

    assert _row_names(html) == ["Young family", "Zeta family", "Abbott family", "Brown family"]
    assert "Families you are lead professional for come first" in html


def test_for_a_teammate_their_own_families_come_first(client, practitioner, teammate, team):
    FamilyFactory(team=team, name="Abbott family", lead_professional=practitioner)
    FamilyFactory(team=team, name="Zeta family", lead_professional=teammate)
    client.force_login(teammate)

    html = client.get("/", {"sort": "name"}).content.decode()

    assert _row_names(html) == ["Zeta family", "Abbott family"]


def test_row_shows_level_lead_professional_last_and_next_visit_and_flags(client, practitioner, teammate, team):
    teammate.first_name, teammate.last_name = "Bob", "Mensah"
    teammate.save()
    now = timezone.now()
    mine = FamilyFactory(
        team=team, name="Abbott family", level=FamilyLevel.CHILD_PROTECTION, lead_professional=practitioner
    )
    last = now - dt.timedelta(days=12)
    VisitFactory(family=mine, scheduled_for=now - dt.timedelta(days=40), status=VisitStatus.COMPLETED)
    VisitFactory(family=mine, scheduled_for=last, status=VisitStatus.COMPLETED)
    VisitFactory(family=mine, scheduled_for=now - dt.timedelta(days=3), status=VisitStatus.NO_ACCESS)  # not a visit
    upcoming = now + dt.timedelta(days=5)
    VisitFactory(family=mine, scheduled_for=upcoming, status=VisitStatus.SCHEDULED)
    VisitFactory(family=mine, scheduled_for=now + dt.timedelta(days=30), status=VisitStatus.SCHEDULED)
    VisitFactory(  # an unplanned visit in the diary is not a planned visit
        family=mine, planned=False, purpose="", expected_outcome="", scheduled_for=now + dt.timedelta(days=2)
    )
    _flag(mine, "high", "was_not_brought")
    _flag(mine, "high", "engagement_decline")
    _flag(mine, "medium", "missing_family_details")
    _flag(mine, "medium", "no_lead_professional", status="resolved", resolved_at=now)  # resolved: not counted
    theirs = FamilyFactory(team=team, name="Jones family", level=FamilyLevel.CHILD_IN_NEED, lead_professional=teammate)
    nobody = FamilyFactory(team=team, name="Khan family", level=FamilyLevel.EARLY_HELP, lead_professional=None)
    _flag(nobody, "medium", "no_lead_professional")
    client.force_login(practitioner)

    html = client.get("/").content.decode()

    row = _row(html, "Abbott family")
    assert "Child protection" in row
    assert '<strong class="govuk-tag govuk-tag--blue">You</strong>' in row
    assert f'data-label="Last visit">{_day(last)}</td>' in row
    assert f'data-label="Next planned visit">{_day(upcoming)}</td>' in row
    assert '<strong class="govuk-tag govuk-tag--red">2 high</strong>' in row
    assert '<strong class="govuk-tag govuk-tag--yellow">1 medium</strong>' in row
    assert mine.reference in row

    row = _row(html, "Jones family")
    assert "Child in need" in row
    assert "Bob Mensah" in row
    assert 'data-label="Last visit">None</td>' in row
    assert 'data-label="Next planned visit">None planned</td>' in row
    assert "high</strong>" not in row and "medium</strong>" not in row
    assert theirs.reference in row

    row = _row(html, "Khan family")
    assert "Early help" in row
    assert '<strong class="govuk-tag govuk-tag--red">None</strong>' in row  # no lead professional
    assert '<strong class="govuk-tag govuk-tag--yellow">1 medium</strong>' in row
    assert "high</strong>" not in row


# --- the caseload: filters and sorting --------------------------------------------------------


@pytest.fixture
def caseload(team, practitioner, teammate):
    """Four open families and a closed one, with visits and flags to sort by."""
    now = timezone.now()
    families = {
        "Abbott": FamilyFactory(
            team=team, name="Abbott family", level=FamilyLevel.EARLY_HELP, lead_professional=teammate
        ),
        "Brown": FamilyFactory(
            team=team, name="Brown family", level=FamilyLevel.CHILD_PROTECTION, lead_professional=teammate
        ),
        "Carter": FamilyFactory(
            team=team, name="Carter family", level=FamilyLevel.CHILD_IN_NEED, lead_professional=practitioner
        ),
        "Davies": FamilyFactory(
            team=team, name="Davies family", level=FamilyLevel.CHILD_PROTECTION, lead_professional=teammate
        ),
        "Evans": FamilyFactory(
            team=team,
            name="Evans family",
            level=FamilyLevel.LOOKED_AFTER,
            lead_professional=practitioner,
            status=FamilyStatus.CLOSED,
        ),
    }
    VisitFactory(family=families["Abbott"], scheduled_for=now - dt.timedelta(days=50))
    VisitFactory(family=families["Brown"], scheduled_for=now - dt.timedelta(days=5))
    VisitFactory(family=families["Davies"], scheduled_for=now - dt.timedelta(days=20))
    VisitFactory(family=families["Abbott"], scheduled_for=now + dt.timedelta(days=2), status=VisitStatus.SCHEDULED)
    VisitFactory(family=families["Davies"], scheduled_for=now + dt.timedelta(days=9), status=VisitStatus.SCHEDULED)
    _flag(families["Davies"], "medium", "missing_family_details")
    _flag(families["Brown"], "high", "was_not_brought")
    _flag(families["Abbott"], "medium", "missing_family_details")
    _flag(families["Abbott"], "medium", "engagement_decline")
    return families


OPEN_FOUR = ["Carter family", "Brown family", "Abbott family", "Davies family"]


# The filter form always sends `status` (its first option, "open", is selected by default), so these
# requests carry it as the browser would.
@pytest.mark.parametrize(
    ("params", "expected"),
    [
        # No filter at all: open families, mine first, then by open flags (high, then medium), then name.
        ({}, OPEN_FOUR),
        ({"status": "open", "sort": "flags"}, OPEN_FOUR),
        ({"status": "open", "sort": "name"}, ["Carter family", "Abbott family", "Brown family", "Davies family"]),
        # Longest since the last visit first.
        ({"status": "open", "sort": "last_visit"}, ["Carter family", "Abbott family", "Davies family", "Brown family"]),
        # Soonest planned visit first; none planned last.
        ({"status": "open", "sort": "next_visit"}, ["Carter family", "Abbott family", "Davies family", "Brown family"]),
        ({"status": "open", "sort": "level"}, ["Carter family", "Brown family", "Davies family", "Abbott family"]),
        ({"status": "open", "level": "child_protection", "sort": "name"}, ["Brown family", "Davies family"]),
        ({"status": "open", "level": "looked_after"}, []),
        ({"status": "closed"}, ["Evans family"]),
        (
            {"status": "", "sort": "name"},
            ["Carter family", "Evans family", "Abbott family", "Brown family", "Davies family"],
        ),
        ({"status": "", "level": "looked_after"}, ["Evans family"]),
        ({"status": "open", "mine": "on"}, ["Carter family"]),
        ({"status": "", "mine": "on", "sort": "name"}, ["Carter family", "Evans family"]),
        # Values that are not choices are ignored rather than an error.
        ({"sort": "; drop table", "level": "urgent"}, OPEN_FOUR),
    ],
)
def test_caseload_filters_and_sorts(client, practitioner, caseload, params, expected):
    client.force_login(practitioner)
    response = client.get("/", params)
    assert response.status_code == 200
    assert _row_names(response.content.decode()) == expected


def test_sorting_by_last_visit_puts_never_visited_families_first(client, practitioner, caseload):
    FamilyFactory(team=caseload["Abbott"].team, name="Nolan family", lead_professional=None)  # never visited
    client.force_login(practitioner)
    names = _row_names(client.get("/", {"status": "open", "sort": "last_visit"}).content.decode())
    # Carter (mine, never visited) leads; then the team's, never visited first, then the longest since a visit.
    assert names == ["Carter family", "Nolan family", "Abbott family", "Davies family", "Brown family"]


def test_next_page_of_the_default_caseload_still_shows_open_families_only(client, practitioner, team):
    for i in range(PAGE_SIZE + 2):
        FamilyFactory(team=team, name=f"Open {i:02d}")
    for i in range(3):
        FamilyFactory(team=team, name=f"Closed {i:02d}", status=FamilyStatus.CLOSED)
    client.force_login(practitioner)

    first = client.get("/").content.decode()
    assert f"{PAGE_SIZE + 2} families" in first
    next_link = re.search(r'href="(\?[^"]*)" rel="next"', first).group(1).replace("&amp;", "&")
    second = client.get("/" + next_link).content.decode()

    assert f"{PAGE_SIZE + 2} families" in second
    assert not [name for name in _row_names(second) if name.startswith("Closed")]


def test_sorting_without_a_status_keeps_the_default_open_families(client, practitioner, caseload):
    client.force_login(practitioner)
    names = _row_names(client.get("/", {"sort": "name"}).content.decode())
    assert "Evans family" not in names


def test_filter_form_keeps_the_chosen_values(client, practitioner, caseload):
    client.force_login(practitioner)
    html = client.get("/", {"level": "child_protection", "sort": "name", "mine": "on"}).content.decode()
    assert '<details class="govuk-details" open>' in html  # the filters stay open when used
    assert re.search(r'<option value="child_protection" selected>', html)
    assert re.search(r'<option value="name" selected>', html)
    assert re.search(r'name="mine"[^>]*checked', html)


# --- pagination, HTMX and query counts --------------------------------------------------------


def test_caseload_is_paginated_and_keeps_the_filters(client, practitioner, team):
    for i in range(PAGE_SIZE + 5):
        FamilyFactory(team=team, name=f"Family {i:02d}", level=FamilyLevel.CHILD_IN_NEED)
    FamilyFactory(team=team, name="Early help family", level=FamilyLevel.EARLY_HELP)
    client.force_login(practitioner)

    html = client.get("/", {"level": "child_in_need", "sort": "name"}).content.decode()
    names = _row_names(html)
    assert names == [f"Family {i:02d}" for i in range(PAGE_SIZE)]
    assert f"{PAGE_SIZE + 5} families" in html
    assert "Page 1 of 2" in html
    assert 'href="?level=child_in_need&amp;sort=name&amp;page=2" rel="next"' in html
    assert 'rel="prev"' not in html

    html = client.get("/", {"level": "child_in_need", "sort": "name", "page": "2"}).content.decode()
    assert _row_names(html) == [f"Family {i:02d}" for i in range(PAGE_SIZE, PAGE_SIZE + 5)]
    assert "Page 2 of 2" in html
    assert 'href="?level=child_in_need&amp;sort=name&amp;page=1" rel="prev"' in html
    assert 'rel="next"' not in html

    # A page past the end, or not a number, shows the nearest page rather than an error.
    assert client.get("/", {"page": "99"}).status_code == 200
    assert client.get("/", {"page": "x"}).status_code == 200


def test_htmx_request_gets_the_table_only(client, practitioner, family):
    client.force_login(practitioner)
    response = client.get("/", {"sort": "name"}, headers=HTMX)
    assert response.status_code == 200
    html = response.content.decode()
    assert "<html" not in html
    assert "<title>" not in html
    assert 'class="govuk-table app-table--responsive"' in html
    assert _row_names(html) == ["Smith family"]
    assert "Filter and sort" not in html


def test_the_full_page_holds_the_htmx_target_and_filter_form(client, practitioner, family):
    client.force_login(practitioner)
    html = client.get("/").content.decode()
    assert '<div id="caseload">' in html
    assert 'hx-get="/"' in html
    assert 'hx-target="#caseload"' in html


def _count_queries(client, params=None) -> int:
    with CaptureQueriesContext(connection) as ctx:
        response = client.get("/", params or {})
    assert response.status_code == 200
    return len(ctx.captured_queries)


def test_caseload_query_count_does_not_grow_with_the_families_shown(client, practitioner, teammate, team):
    """1 session, 2 request.user, 3 the user with agency and team, 4 the paginator's count, 5 the page of
    families with lead professional, last/next visit and flag counts as subqueries, and in the same
    statement the audit log's VIEW rows for the families shown (audit.reads)."""
    client.force_login(practitioner)

    def make(n: int, prefix: str) -> None:
        for i in range(n):
            family = FamilyFactory(team=team, name=f"{prefix} {i:02d}", lead_professional=teammate)
            VisitFactory(family=family)
            VisitFactory(family=family, scheduled_for=timezone.now() + dt.timedelta(days=3), status="scheduled")
            _flag(family, "high", "was_not_brought")
            _flag(family, "medium", "missing_family_details")

    make(5, "Few")
    few = _count_queries(client)
    make(25, "Many")
    many = _count_queries(client)
    many_sorted = _count_queries(client, {"sort": "last_visit", "status": ""})

    assert few == many == many_sorted == 5


def test_home_loads_only_our_own_static_files(client, practitioner, family):
    _assert_served_by_us(client.get(reverse("login")).content.decode())
    client.force_login(practitioner)
    _assert_served_by_us(client.get("/").content.decode())


def test_header_names_the_user_and_offers_sign_out(client, practitioner):
    practitioner.first_name, practitioner.last_name = "Alice", "Okafor"
    practitioner.save()
    client.force_login(practitioner)
    html = client.get("/").content.decode()
    assert "<strong>Alice Okafor</strong></a>, Practitioner" in html  # links to the account page
    assert 'name="csrfmiddlewaretoken"' in html  # the sign-out form
    assert f'action="{reverse("logout")}"' in html
    assert 'href="/admin/">Administration</a>' not in html


def test_staff_see_the_administration_link(client, admin_user):
    client.force_login(admin_user)
    html = client.get("/").content.decode()
    assert 'href="/admin/">Administration</a>' in html


def test_inactive_user_cannot_use_a_session(client, team):
    user = UserFactory(team=team, agency=team.agency, is_active=False)
    client.force_login(user)
    assert client.get("/").status_code == 302


def test_another_teams_closed_family_stays_hidden_with_every_filter(client, other_team_user, practitioner, team):
    FamilyFactory(team=team, name="Closed family", status=FamilyStatus.CLOSED)
    FamilyFactory(team=TeamFactory(agency=team.agency), name="Elsewhere family")
    client.force_login(other_team_user)
    html = client.get("/", {"status": ""}).content.decode()
    assert _row_names(html) == []


# --- no CDN, no GOV.UK branding --------------------------------------------------------------


def test_vendored_assets_are_on_disk_without_gov_uk_branding():
    for path in (
        "vendor/govuk-frontend/govuk-frontend.min.css",
        "vendor/govuk-frontend/govuk-frontend.min.js",
        "vendor/htmx/htmx.min.js",
        "vendor/chart.js/chart.umd.min.js",
        "css/app.css",
        "js/app.js",
    ):
        found = finders.find(path)
        assert found, path
        assert Path(found).stat().st_size > 0, path
    vendor = Path(settings.BASE_DIR) / "static" / "vendor"
    branded = [p.name for p in vendor.rglob("*") if p.suffix in (".woff", ".woff2") or "crown" in p.name]
    assert branded == []


def test_pages_use_the_services_own_name_and_no_crown(client):
    html = client.get(reverse("login")).content.decode()
    assert "Safeguarding case record" in html
    assert "govuk-footer__crown" not in html
    assert "govuk-header__logotype" not in html
    assert "Crown copyright" not in html
