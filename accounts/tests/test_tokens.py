"""API tokens: `manage.py revoke_token USERNAME [--reissue]` stops a token at once."""

from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from knox.models import AuthToken
from rest_framework.test import APIClient

from audit.models import SecurityEvent, SecurityEventKind

pytestmark = pytest.mark.django_db


def _with_token(key: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    return client


def _run(*args) -> list[str]:
    out = StringIO()
    call_command("revoke_token", *args, stdout=out)
    return out.getvalue().splitlines()


@pytest.fixture
def old_key(partner):
    return AuthToken.objects.create(user=partner)[1]


def test_revoking_a_token_makes_it_401_at_once(partner, old_key):
    client = _with_token(old_key)
    assert client.get("/api/v1/me/").status_code == 200

    lines = _run("hv-system")

    assert lines == ["Token of hv-system revoked."]
    response = client.get("/api/v1/me/")
    assert response.status_code == 401
    assert response["WWW-Authenticate"] == "Token"
    assert not AuthToken.objects.filter(user=partner).exists()


def test_reissue_prints_a_new_working_token_on_the_last_line(partner, old_key):
    lines = _run("hv-system", "--reissue")

    new_key = lines[-1]
    assert new_key != old_key
    assert len(new_key) == 64
    assert _with_token(new_key).get("/api/v1/me/").json()["username"] == "hv-system"
    assert _with_token(old_key).get("/api/v1/me/").status_code == 401


def test_reissue_for_someone_with_no_token_issues_one(partner):
    lines = _run("hv-system", "--reissue")

    assert "not found" in lines[0]
    assert _with_token(lines[-1]).get("/api/v1/me/").status_code == 200


def test_an_unknown_username_is_an_error(partner, old_key):
    with pytest.raises(CommandError, match="nosuchperson"):
        _run("nosuchperson")
    assert _with_token(old_key).get("/api/v1/me/").status_code == 200


def test_revoking_and_issuing_are_in_the_security_log(partner, old_key):
    lines = _run("hv-system", "--reissue")

    events = SecurityEvent.objects.filter(username="hv-system").order_by("id")
    assert [(e.kind, e.user, e.route) for e in events] == [
        (SecurityEventKind.TOKEN_REVOKED, partner, "by command"),
        (SecurityEventKind.TOKEN_ISSUED, partner, "by command"),
    ]
    stored = "\n".join(str(v) for row in SecurityEvent.objects.values() for v in row.values())
    assert old_key not in stored
    assert lines[-1] not in stored


def test_nothing_to_revoke_is_not_logged_as_a_revocation(partner):
    _run("hv-system")

    assert not SecurityEvent.objects.filter(kind=SecurityEventKind.TOKEN_REVOKED).exists()


def test_revoking_one_users_token_leaves_others_working(partner, unshared_partner, old_key):
    other_key = AuthToken.objects.create(user=unshared_partner)[1]

    _run("hv-system")

    assert _with_token(other_key).get("/api/v1/me/").status_code == 200
