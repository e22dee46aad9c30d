"""Response hardening (DESIGN 6, OWASP ASVS level 2): no caching of record data, the security
headers, a Content Security Policy with no inline script or style (so the pages carry none),
cookies out of reach of scripts and other sites, a deploy check that passes, and a 500 page that
gives nothing away."""

from __future__ import annotations

import datetime as dt
import os
import secrets
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path
from unittest import mock

import pytest
from django.conf import settings
from django.test import Client, override_settings
from django.utils import timezone
from rest_framework.test import APIClient

from accounts.tests.factories import api_token_for

pytestmark = pytest.mark.django_db

ROOT = Path(__file__).resolve().parent.parent
TEST_DB = "postgres://postgres@127.0.0.1:5432/audittests"


@pytest.fixture
def prompt(family, child, manager):
    from escalation.models import EscalationPrompt, Flag

    flag = Flag.objects.create(family=family, member=child, rule="was_not_brought", severity="high", detail="Missed")
    return EscalationPrompt.objects.create(
        flag=flag, family=family, level="team_manager", assigned_to=manager, due=timezone.localdate() + dt.timedelta(5)
    )


@pytest.fixture
def visit(family, practitioner):
    from visits.tests.factories import VisitFactory

    return VisitFactory(family=family, practitioner=practitioner)


@pytest.fixture
def appointment(child, council):
    from visits.tests.factories import AppointmentFactory

    return AppointmentFactory(member=child, agency=council)


def token_client(user) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {api_token_for(user)}")
    return client


# --- headers -------------------------------------------------------------------------------------


def _directives(header: str) -> dict[str, list[str]]:
    parsed = {}
    for part in header.split(";"):
        words = part.split()
        if words:
            parsed[words[0].lower()] = words[1:]
    return parsed


def assert_hardened(response) -> None:
    assert "no-store" in response.get("Cache-Control", ""), response.get("Cache-Control")
    assert response.get("X-Content-Type-Options") == "nosniff"
    assert response.get("Referrer-Policy") in ("same-origin", "no-referrer", "strict-origin-when-cross-origin")
    assert response.get("X-Frame-Options") == "DENY"
    csp = response.get("Content-Security-Policy")
    assert csp, "no Content-Security-Policy header"
    directives = _directives(csp)
    assert "'self'" in directives.get("script-src", directives.get("default-src", [])), csp
    assert "'unsafe-inline'" not in csp
    assert "'unsafe-eval'" not in csp
    assert directives.get("object-src") == ["'none'"], csp
    assert "base-uri" in directives, csp
    assert directives.get("frame-ancestors") == ["'none'"], csp


def _get_as(client, user, url):
    if user is not None:
        client.force_login(user)
    return client.get(url)


def test_pages_are_hardened(client, family, child, practitioner, manager, prompt):
    for user, url in [
        (None, "/accounts/login/"),
        (practitioner, "/"),
        (practitioner, f"/families/{family.pk}/"),
        (practitioner, f"/families/{family.pk}/members/{child.pk}/"),
        (manager, "/dashboard/"),
        (manager, f"/prompts/{prompt.pk}/"),
        (manager, f"/families/{family.pk}/access-log/"),
    ]:
        response = _get_as(Client(), user, url)
        assert response.status_code == 200, url
        assert_hardened(response)


def test_redirects_and_refusals_are_hardened(client, family, other_team_user):
    assert_hardened(client.get(f"/families/{family.pk}/"))  # anonymous: a redirect to sign in
    client.force_login(other_team_user)
    response = client.get(f"/families/{family.pk}/")
    assert response.status_code == 404
    assert_hardened(response)


def test_the_csv_export_is_not_cached(client, manager, prompt):
    client.force_login(manager)
    response = client.get("/dashboard/export.csv")
    assert response.status_code == 200
    assert "no-store" in response["Cache-Control"]
    assert response["X-Content-Type-Options"] == "nosniff"


def test_api_responses_are_hardened(family, child, practitioner):
    api = token_client(practitioner)
    for url in ("/api/v1/families/", f"/api/v1/families/{family.pk}/", f"/api/v1/members/{child.pk}/", "/api/v1/me/"):
        response = api.get(url)
        assert response.status_code == 200, url
        assert_hardened(response)
    refused = APIClient().get("/api/v1/families/")
    assert refused.status_code == 401
    assert "no-store" in refused["Cache-Control"]
    missing = api.get("/api/v1/families/999999/")
    assert missing.status_code == 404
    assert_hardened(missing)


def test_api_docs_and_schema_are_hardened(client):
    for url in ("/api/docs/", "/api/schema/"):
        response = client.get(url)
        assert response.status_code == 200, url
        assert_hardened(response)


# --- no inline script, event handler or style in any page ----------------------------------------

NON_SCRIPT_TYPES = {"application/json", "application/ld+json", "text/template", "text/html"}


class InlineFinder(HTMLParser):
    """Collects what a CSP without 'unsafe-inline' would block: inline <script> bodies, on*=
    event handler attributes, style= attributes and <style> elements, and javascript: URLs."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.problems: list[str] = []
        self._in_script = False
        self._script_has_src = False

    def handle_starttag(self, tag, attrs):
        names = {name.lower(): (value or "") for name, value in attrs}
        for name, value in names.items():
            if name.startswith("on"):
                self.problems.append(f"<{tag} {name}=...> (inline event handler)")
            if name == "style":
                self.problems.append(f'<{tag} style="{value[:40]}"> (inline style)')
            if name in ("href", "src", "action", "formaction") and value.strip().lower().startswith("javascript:"):
                self.problems.append(f"<{tag} {name}=javascript:...>")
        if tag == "script":
            script_type = names.get("type", "").lower()
            executable = script_type not in NON_SCRIPT_TYPES
            self._in_script = executable
            self._script_has_src = bool(names.get("src"))
        if tag == "style":
            self.problems.append("<style> element (inline style)")

    def handle_endtag(self, tag):
        if tag == "script":
            self._in_script = False

    def handle_data(self, data):
        if self._in_script and not self._script_has_src and data.strip():
            self.problems.append(f"inline <script>: {data.strip()[:60]!r}")


def inline_problems(html: str) -> list[str]:
    finder = InlineFinder()
    finder.feed(html)
    finder.close()
    return finder.problems


def test_the_inline_finder_finds_what_it_should():
    html = (
        '<script>alert(1)</script><script src="/x.js"></script><script type="application/json">{"a":1}</script>'
        '<a onclick="x()">x</a><div style="color:red"></div><style>p{}</style><a href="javascript:x()">y</a>'
    )
    problems = inline_problems(html)
    assert len(problems) == 5, problems
    assert inline_problems('<script src="/x.js" defer></script><p class="onion">on</p>') == []


def _page_urls(family, child, visit, appointment, prompt) -> list[tuple[str, str]]:
    f = family.pk
    return [
        ("practitioner", "/"),
        ("practitioner", f"/families/{f}/"),
        ("practitioner", f"/families/{f}/?kind=visit"),
        ("practitioner", "/families/add/"),
        ("practitioner", f"/families/{f}/members/add/"),
        ("practitioner", f"/families/{f}/members/{child.pk}/"),
        ("practitioner", f"/families/{f}/gaps/add/"),
        ("practitioner", f"/families/{f}/relationships/add/"),
        ("practitioner", f"/families/{f}/significant-adults/"),
        ("practitioner", f"/families/{f}/lead-professional/"),
        ("practitioner", f"/families/{f}/shares/add/"),
        ("practitioner", f"/families/{f}/visits/add/"),
        ("practitioner", f"/families/{f}/visits/{visit.pk}/"),
        ("practitioner", f"/families/{f}/appointments/add/"),
        ("practitioner", f"/families/{f}/appointments/{appointment.pk}/"),
        ("practitioner", f"/families/{f}/referrals/add/"),
        ("practitioner", "/search/"),
        ("practitioner", "/dashboard/"),
        ("practitioner", "/accounts/"),
        ("practitioner", "/accounts/two-factor/"),
        ("manager", "/dashboard/"),
        ("manager", f"/prompts/{prompt.pk}/"),
        ("manager", f"/families/{f}/access-log/"),
        ("manager", f"/families/{f}/"),
        ("manager", "/accounts/"),
        ("partner", "/"),
        ("partner", f"/families/{f}/"),
        ("anonymous", "/accounts/login/"),
    ]


def test_no_page_has_inline_script_handlers_or_styles(
    request, family, child, mother, share, visit, appointment, prompt, practitioner, manager, partner
):
    found = {}
    for persona, url in _page_urls(family, child, visit, appointment, prompt):
        client = Client()
        if persona != "anonymous":
            client.force_login(request.getfixturevalue(persona))
        response = client.get(url)
        assert response.status_code == 200, (persona, url, response.status_code)
        problems = inline_problems(response.content.decode())
        if problems:
            found[f"{persona} {url}"] = problems
    assert found == {}


def test_search_results_and_form_errors_have_no_inline_script_or_style(client, family, child, practitioner):
    client.force_login(practitioner)
    results = client.post("/search/", {"q": "Smith"})
    assert results.status_code == 200
    assert "Smith" in results.content.decode()
    assert inline_problems(results.content.decode()) == []
    errors = client.post(f"/families/{family.pk}/members/add/", {"given_name": ""})
    assert errors.status_code == 200
    assert inline_problems(errors.content.decode()) == []


def test_the_two_factor_verify_page_has_no_inline_script_or_style(manager):
    """A manager with an authenticator, signed in with the password only."""
    from django_otp.plugins.otp_totp.models import TOTPDevice

    TOTPDevice.objects.create(user=manager, name="phone", confirmed=True)
    client = Client()
    assert (
        client.post("/accounts/login/", {"username": "mandy", "password": "correct-horse-battery"}).status_code == 302
    )
    response = client.get("/accounts/two-factor/verify/")
    assert response.status_code == 200
    assert inline_problems(response.content.decode()) == []


def test_the_api_docs_page_has_no_inline_script(client):
    response = client.get("/api/docs/")
    assert response.status_code == 200
    html = response.content.decode()
    assert "swagger-ui" in html
    assert inline_problems(html) == []
    # The set-up script the page loads is served from the project, same origin.
    script = client.get("/api/docs/", {"script": ""})
    assert script.status_code == 200
    assert "javascript" in script["Content-Type"]


def test_the_browsable_api_has_no_inline_script(practitioner, family):
    client = Client()
    client.force_login(practitioner)
    response = client.get("/api/v1/families/", HTTP_ACCEPT="text/html")
    assert response.status_code == 200
    problems = [p for p in inline_problems(response.content.decode()) if "script" in p or "handler" in p]
    assert problems == []


# --- cookies -------------------------------------------------------------------------------------


def test_the_session_and_csrf_cookies_are_httponly_and_samesite_lax(practitioner):
    client = Client(enforce_csrf_checks=True)
    page = client.get("/accounts/login/")
    assert page.status_code == 200
    csrf = page.cookies[settings.CSRF_COOKIE_NAME]
    assert csrf["httponly"] is True
    assert csrf["samesite"] == "Lax"
    token = page.context["csrf_token"]
    response = client.post(
        "/accounts/login/",
        {"username": "alice", "password": "correct-horse-battery", "csrfmiddlewaretoken": str(token)},
    )
    assert response.status_code == 302
    session = response.cookies[settings.SESSION_COOKIE_NAME]
    assert session.value
    assert session["httponly"] is True
    assert session["samesite"] == "Lax"
    assert settings.SESSION_COOKIE_HTTPONLY and settings.CSRF_COOKIE_HTTPONLY


# --- deployment settings -------------------------------------------------------------------------


def _production_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "PYTEST"))}
    env.update(
        DJANGO_SETTINGS_MODULE="safeguarding.settings.production",
        DEBUG="false",
        SECRET_KEY=secrets.token_urlsafe(48),  # 64 characters
        DATABASE_URL=TEST_DB,
        ALLOWED_HOSTS="example.org",
    )
    env.pop("SECURE_HSTS_SECONDS", None)
    env.pop("SECURE_SSL_REDIRECT", None)
    assert len(env["SECRET_KEY"]) == 64
    return env


def test_the_production_settings_pass_the_deploy_check():
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT,
        env=_production_env(),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout.lower() or "0 silenced" in result.stdout.lower()


def test_the_production_settings_are_https_only():
    code = (
        "import json, django; django.setup(); from django.conf import settings as s; "
        "print(json.dumps([s.DEBUG, s.SESSION_COOKIE_SECURE, s.CSRF_COOKIE_SECURE, s.SECURE_HSTS_SECONDS, "
        "s.SECURE_SSL_REDIRECT, s.SESSION_COOKIE_HTTPONLY, s.CSRF_COOKIE_HTTPONLY, s.SESSION_COOKIE_SAMESITE, "
        "s.X_FRAME_OPTIONS, s.SECURE_CONTENT_TYPE_NOSNIFF]))"
    )
    result = subprocess.run(  # noqa: S603 - fixed arguments
        [sys.executable, "-c", code], cwd=ROOT, env=_production_env(), capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    import json

    debug, session_secure, csrf_secure, hsts, ssl_redirect, session_httponly, csrf_httponly, samesite, xfo, nosniff = (
        json.loads(result.stdout.strip().splitlines()[-1])
    )
    assert debug is False
    assert session_secure is True and csrf_secure is True
    assert hsts >= 365 * 24 * 60 * 60
    assert ssl_redirect is True
    assert session_httponly is True and csrf_httponly is True
    assert samesite == "Lax"
    assert xfo == "DENY"
    assert nosniff is True


def test_production_refuses_to_start_with_debug_on_or_a_short_key():
    for override in ({"DEBUG": "true"}, {"SECRET_KEY": "short"}):
        env = {**_production_env(), **override}
        result = subprocess.run(
            [sys.executable, "manage.py", "check"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
        )
        assert result.returncode != 0, override
        assert "ImproperlyConfigured" in result.stderr


# --- the error page -------------------------------------------------------------------------------


@override_settings(DEBUG=False)
def test_a_server_error_page_gives_nothing_away(practitioner, family):
    client = Client(raise_request_exception=False)
    client.force_login(practitioner)
    secret_message = f"boom {settings.SECRET_KEY} {family.name}"
    with mock.patch("cases.views.caseload.caseload", side_effect=RuntimeError(secret_message)):
        response = client.get("/")
    assert response.status_code == 500
    body = response.content.decode()
    assert "Traceback" not in body
    assert settings.SECRET_KEY not in body
    assert "boom" not in body
    assert "RuntimeError" not in body
    assert "caseload" not in body
    assert "no-store" in response.get("Cache-Control", "")


@override_settings(DEBUG=False)
def test_an_api_server_error_gives_nothing_away(practitioner, family):
    api = token_client(practitioner)
    api.raise_request_exception = False
    with mock.patch("cases.selectors.family_list_brief", side_effect=RuntimeError(f"boom {settings.SECRET_KEY}")):
        response = api.get("/api/v1/families/")
    assert response.status_code == 500
    body = response.content.decode()
    assert "Traceback" not in body
    assert settings.SECRET_KEY not in body
    assert "boom" not in body
    assert "RuntimeError" not in body
