"""The browser shell: sign in, sign out, the home page, and the vendored GOV.UK Frontend assets."""

from __future__ import annotations

from html.parser import HTMLParser
from pathlib import Path

import pytest
from django.conf import settings
from django.contrib.staticfiles import finders
from django.urls import reverse

from cases.models import FamilyLevel, FamilyStatus
from cases.tests.factories import FamilyFactory, TeamFactory
from cases.views import HOME_LEAD_FAMILIES_SHOWN

pytestmark = pytest.mark.django_db

PASSWORD = "correct-horse-battery"  # cases.tests.factories.UserFactory

# Home page for a practitioner or manager, however many families:
# 1 session, 2 request.user, 3 the user's agency and team, 4 the two counts, 5 the lead families.
HOME_QUERIES = 5


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


# --- home ------------------------------------------------------------------------------------


def test_practitioner_sees_own_details_and_team_counts(
    client, practitioner, teammate, family, django_assert_max_num_queries
):
    practitioner.first_name, practitioner.last_name = "Alice", "Okafor"
    practitioner.save()
    FamilyFactory(
        team=family.team, name="Abbott family", lead_professional=practitioner, level=FamilyLevel.CHILD_PROTECTION
    )
    FamilyFactory(team=family.team, name="Jones family", lead_professional=teammate)
    FamilyFactory(team=family.team, name="Closed family", lead_professional=practitioner, status=FamilyStatus.CLOSED)
    other_team = TeamFactory(agency=family.team.agency, name="Assessment Team South")
    FamilyFactory(team=other_team, name="Other team family", lead_professional=None)
    client.force_login(practitioner)

    with django_assert_max_num_queries(HOME_QUERIES):
        response = client.get("/")

    assert response.status_code == 200
    html = response.content.decode()
    assert "Welcome, Alice" in html
    assert "Alice Okafor" in html  # in the header and the summary
    assert "Practitioner" in html
    assert "Northshire Children&#x27;s Services" in html
    assert "Assessment Team North" in html
    # Smith, Abbott and Jones are open in the team; the closed and the other team's are not counted.
    assert "<strong>3 open families</strong>" in html
    assert "<strong>2 open families</strong>" in html  # Alice leads Smith and Abbott
    assert "Abbott family" in html
    assert "Child protection" in html
    assert "Smith family" in html
    assert "Jones family" not in html
    assert "Closed family" not in html
    assert "Other team family" not in html
    assert "Administration" not in html
    assert 'name="csrfmiddlewaretoken"' in html  # the sign-out form


def test_home_lists_at_most_ten_lead_families_at_a_fixed_query_count(
    client, practitioner, team, django_assert_max_num_queries
):
    FamilyFactory.create_batch(HOME_LEAD_FAMILIES_SHOWN + 5, team=team, lead_professional=practitioner)
    client.force_login(practitioner)

    with django_assert_max_num_queries(HOME_QUERIES):
        response = client.get("/")

    html = response.content.decode()
    assert f"<strong>{HOME_LEAD_FAMILIES_SHOWN + 5} open families</strong>" in html
    assert f"The first {HOME_LEAD_FAMILIES_SHOWN}, by name" in html
    assert html.count('<th scope="row" class="govuk-table__header">') == HOME_LEAD_FAMILIES_SHOWN


def test_manager_sees_team_count_and_no_lead_list(client, manager, family):
    client.force_login(manager)
    html = client.get("/").content.decode()
    assert "<strong>1 open family</strong>" in html
    assert "You are not the lead professional for any open family" in html
    assert "Manager" in html


def test_other_team_does_not_count_the_family(client, other_team_user, family):
    client.force_login(other_team_user)
    html = client.get("/").content.decode()
    assert "<strong>0 open families</strong>" in html
    assert "Smith family" not in html


def test_partner_sees_no_team_counts(client, partner, share):
    client.force_login(partner)
    response = client.get("/")
    assert response.status_code == 200
    html = response.content.decode()
    assert "Northshire Health Visiting" in html
    assert "Partner agency" in html
    assert "open famil" not in html
    assert "Smith family" not in html
    assert 'href="/api/docs/"' in html
    assert 'href="/api/v1/"' in html


def test_staff_see_the_administration_link(client, admin_user):
    client.force_login(admin_user)
    html = client.get("/").content.decode()
    assert 'href="/admin/">Administration</a>' in html


# --- no CDN, no GOV.UK branding --------------------------------------------------------------


def test_sign_in_and_home_load_only_our_own_static_files(client, practitioner):
    _assert_served_by_us(client.get(reverse("login")).content.decode())
    client.force_login(practitioner)
    _assert_served_by_us(client.get("/").content.decode())


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
