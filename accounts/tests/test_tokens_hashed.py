"""API tokens (issue 14, item 10): stored hashed and shown once, expiring, every issue and
revocation a security event, and issued in the admin only through a form that names the person
and gives a reason (a token skips the second factor), never from a bare add form."""

from __future__ import annotations

import datetime as dt
from io import StringIO

import pytest
from django.core.management import call_command
from django.db import connection
from django.utils import timezone
from knox.models import AuthToken
from rest_framework.test import APIClient

from accounts.services import token_issue
from audit.models import SecurityEvent, SecurityEventKind
from cases.models import Role

pytestmark = pytest.mark.django_db

ADD_URL = "/admin/knox/authtoken/add/"
LIST_URL = "/admin/knox/authtoken/"


def _with_token(key: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    return client


def _stored_text() -> str:
    """Every value of every token row and security event, as the database holds them."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT * FROM knox_authtoken")
        tokens = cursor.fetchall()
    events = list(SecurityEvent.objects.values_list())
    return "\n".join(str(v) for row in [*tokens, *events] for v in row)


def test_create_user_prints_a_working_token_that_is_stored_only_as_a_hash(db):
    out = StringIO()
    call_command("create_user", "nhs-system", "--role", "partner", "--agency", "NHS Trust", "--token", stdout=out)
    key = out.getvalue().splitlines()[-1]

    assert _with_token(key).get("/api/v1/me/").json()["username"] == "nhs-system"
    assert key not in _stored_text()
    token = AuthToken.objects.get(user__username="nhs-system")
    assert token.digest != key and not key.startswith(token.digest)
    event = SecurityEvent.objects.get(kind=SecurityEventKind.TOKEN_ISSUED)
    assert event.username == "nhs-system" and event.route == "by command"


def test_a_token_expires_after_the_configured_days(partner, settings):
    issued = token_issue(user=partner)
    expected = timezone.now() + dt.timedelta(days=settings.API_TOKEN_TTL_DAYS)
    assert abs(issued.token.expiry - expected) < dt.timedelta(minutes=1)
    assert settings.API_TOKEN_TTL_DAYS == 365  # the documented default

    AuthToken.objects.filter(user=partner).update(expiry=timezone.now() - dt.timedelta(seconds=1))

    response = _with_token(issued.key).get("/api/v1/me/")
    assert response.status_code == 401
    assert response["WWW-Authenticate"] == "Token"
    assert not AuthToken.objects.filter(user=partner).exists()
    event = SecurityEvent.objects.filter(kind=SecurityEventKind.TOKEN_REVOKED).get()
    assert event.user == partner and event.route == "expired"


def test_a_switched_off_account_is_refused_at_once(partner):
    key = token_issue(user=partner).key
    partner.is_active = False
    partner.save()
    assert _with_token(key).get("/api/v1/me/").status_code == 401


def test_a_token_request_costs_one_query_to_authenticate(partner, share, django_assert_num_queries):
    key = token_issue(user=partner).key
    client = _with_token(key)
    client.get("/api/v1/me/")  # warm caches (content types, settings rows)
    with django_assert_num_queries(1, exact=False) as captured:
        client.get("/api/v1/me/")
    token_queries = [q for q in captured.captured_queries if "knox_authtoken" in q["sql"]]
    assert len(token_queries) == 1  # the token and its user, in one SELECT


def test_the_schema_still_documents_authorization_token(client, practitioner):
    client.force_login(practitioner)
    schema = client.get("/api/schema/?format=json").json()
    scheme = schema["components"]["securitySchemes"]["tokenAuth"]
    assert scheme["type"] == "apiKey" and scheme["in"] == "header" and scheme["name"] == "Authorization"
    assert '"Token"' in scheme["description"]


# -- the admin ------------------------------------------------------------------------------------


def test_the_token_list_shows_owner_prefix_created_and_expiry_never_the_key(client, admin_user, partner):
    issued = token_issue(user=partner)
    client.force_login(admin_user)
    html = client.get(LIST_URL).content.decode()
    assert "hv-system" in html and issued.key[:8] in html
    # (The hash is the row's id, in its links: it cannot be turned back into the key.)
    assert issued.key not in html and issued.token.token_key not in html
    detail = client.get(f"{LIST_URL}{issued.token.pk}/change/").content.decode()
    assert "hv-system" in detail and issued.key not in detail and issued.token.token_key not in detail


def test_a_bare_add_form_never_mints_a_token(client, admin_user, partner):
    client.force_login(admin_user)
    # What knox's own add form posts: a user and an expiry, no reason.
    response = client.post(ADD_URL, {"user": partner.pk, "expiry": ""})
    assert response.status_code == 200
    assert not AuthToken.objects.exists()
    assert not SecurityEvent.objects.filter(kind=SecurityEventKind.TOKEN_ISSUED).exists()
    assert "Say why this person needs an API token" in response.content.decode()


def test_a_token_for_a_manager_needs_a_reason_and_the_reason_is_recorded(client, admin_user, manager):
    client.force_login(admin_user)
    assert client.post(ADD_URL, {"user": manager.pk, "reason": "  "}).status_code == 200
    assert not AuthToken.objects.exists()

    response = client.post(ADD_URL, {"user": manager.pk, "reason": "Reporting tool for the quarterly audit"})

    assert response.status_code == 200
    key = response.context["key"]
    html = response.content.decode()
    assert key in html and "will not be shown again" in html
    assert response["Cache-Control"] and "no-store" in response["Cache-Control"]
    assert _with_token(key).get("/api/v1/me/").json()["username"] == "mandy"
    event = SecurityEvent.objects.get(kind=SecurityEventKind.TOKEN_ISSUED)
    assert event.user == manager
    assert event.route == "by root: Reporting tool for the quarterly audit"
    # Shown once: nowhere in the admin afterwards.
    assert key not in client.get(LIST_URL).content.decode()


def test_issuing_in_the_admin_replaces_the_old_token_and_logs_both(client, admin_user, partner):
    old = token_issue(user=partner).key
    client.force_login(admin_user)
    client.post(ADD_URL, {"user": partner.pk, "reason": "Key lost by the supplier"})
    assert _with_token(old).get("/api/v1/me/").status_code == 401
    kinds = list(SecurityEvent.objects.filter(user=partner).order_by("id").values_list("kind", flat=True))
    assert kinds == [SecurityEventKind.TOKEN_ISSUED, SecurityEventKind.TOKEN_REVOKED, SecurityEventKind.TOKEN_ISSUED]


def test_deleting_a_token_in_the_admin_revokes_it_and_is_logged(client, admin_user, partner):
    issued = token_issue(user=partner)
    client.force_login(admin_user)
    response = client.post(f"{LIST_URL}{issued.token.pk}/delete/", {"post": "yes"})
    assert response.status_code == 302
    assert _with_token(issued.key).get("/api/v1/me/").status_code == 401
    event = SecurityEvent.objects.filter(kind=SecurityEventKind.TOKEN_REVOKED).get()
    assert event.user == partner and event.route == "by root"


def test_a_token_cannot_be_edited_in_the_admin(client, admin_user, partner, manager):
    issued = token_issue(user=partner)
    client.force_login(admin_user)
    url = f"{LIST_URL}{issued.token.pk}/change/"
    assert client.post(url, {"user": manager.pk, "expiry": ""}).status_code == 403
    assert AuthToken.objects.get(pk=issued.token.pk).user == partner


def test_only_an_admin_may_issue(client, manager):
    manager.role = Role.MANAGER
    client.force_login(manager)
    assert client.post(ADD_URL, {"user": manager.pk, "reason": "x"}).status_code in (302, 403)
    assert not AuthToken.objects.exists()


def test_a_key_issued_before_knox_keeps_working_and_leaves_no_clear_copy(partner):
    from importlib import import_module

    from django.apps import apps

    migration = import_module("accounts.migrations.0002_carry_over_api_tokens")
    old_key = "0123456789abcdef0123456789abcdef01234567"  # a DRF authtoken key: 40 hex characters
    with connection.cursor() as cursor:
        cursor.execute(
            "CREATE TABLE authtoken_token (key varchar(40) PRIMARY KEY, created timestamptz, user_id bigint)"
        )
        cursor.execute("INSERT INTO authtoken_token VALUES (%s, now(), %s)", [old_key, partner.pk])
    with connection.schema_editor() as schema_editor:
        assert migration.carry_over_drf_tokens(apps, schema_editor) == 1

    assert _with_token(old_key).get("/api/v1/me/").json()["username"] == "hv-system"
    assert old_key not in _stored_text()
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM authtoken_token")
        assert cursor.fetchone()[0] == 0
    assert AuthToken.objects.get(user=partner).expiry > timezone.now() + dt.timedelta(days=364)
