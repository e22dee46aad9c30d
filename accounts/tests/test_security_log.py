"""The security log: a SecurityEvent row and a `security` logger line for each sign-in, failure,
lock-out, sign-out, expired session, second factor and refused request; never a password, and
nothing for an ordinary successful request."""

from __future__ import annotations

import logging

import pytest
from axes.models import AccessAttempt, AccessFailureLog
from django.test import Client
from django_otp.plugins.otp_totp.models import TOTPDevice

from audit.models import SecurityEvent, SecurityEventKind

from .helpers import LOGOUT_URL, PASSWORD, VERIFY_URL, age_session, code_for, sign_in, with_password, wrong_code

pytestmark = pytest.mark.django_db

# What a person might type by mistake: a near miss of the real password, which must not be kept either.
TYPED_WRONG = "Zebra-Quartz-7731-Lanturn"


@pytest.fixture
def log(caplog):
    caplog.set_level(logging.INFO)
    return caplog


def _security_lines(caplog) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == "security"]


def _every_stored_string() -> str:
    """Every field of every SecurityEvent, and what django-axes keeps about attempts."""
    parts = [str(value) for row in SecurityEvent.objects.values() for value in row.values()]
    parts += [str(value) for row in AccessAttempt.objects.values() for value in row.values()]
    parts += [str(value) for row in AccessFailureLog.objects.values() for value in row.values()]
    return "\n".join(parts)


def _kinds(**filters) -> list[str]:
    return list(SecurityEvent.objects.filter(**filters).order_by("id").values_list("kind", flat=True))


def test_a_sign_in_is_logged(client, practitioner, log):
    with_password(practitioner)
    sign_in(client, "alice")

    event = SecurityEvent.objects.get(kind=SecurityEventKind.LOGIN)
    assert event.user == practitioner
    assert event.username == "alice"
    assert event.route == "POST /accounts/login/"
    assert event.ip_address == "127.0.0.1"
    assert "login user=alice route=POST /accounts/login/ status=-" in _security_lines(log)
    assert [r.levelno for r in log.records if r.name == "security"] == [logging.INFO]


def test_a_failed_sign_in_keeps_the_typed_username_never_the_password(client, practitioner, log):
    with_password(practitioner)
    sign_in(client, "alice", TYPED_WRONG)
    sign_in(client, "nosuchperson", PASSWORD)

    events = SecurityEvent.objects.filter(kind=SecurityEventKind.LOGIN_FAILED).order_by("id")
    assert [(e.username, e.user_id) for e in events] == [("alice", None), ("nosuchperson", None)]
    lines = _security_lines(log)
    assert "login_failed user=alice route=POST /accounts/login/ status=-" in lines
    assert "login_failed user=nosuchperson route=POST /accounts/login/ status=-" in lines
    assert all(r.levelno == logging.WARNING for r in log.records if r.name == "security")
    for secret in (TYPED_WRONG, PASSWORD):
        assert secret not in _every_stored_string()
        assert secret not in log.text
        assert not any(secret in r.getMessage() for r in log.records)


def test_no_password_is_kept_through_a_whole_lock_out(client, practitioner, log):
    with_password(practitioner)
    for _ in range(10):
        sign_in(client, "alice", TYPED_WRONG)
    sign_in(client, "alice", PASSWORD)

    assert _kinds(kind=SecurityEventKind.LOCKED_OUT)
    assert "locked_out user=alice route=POST /accounts/login/ status=-" in _security_lines(log)
    for secret in (TYPED_WRONG, PASSWORD):
        assert secret not in _every_stored_string()
        assert secret not in log.text


def test_a_sign_out_is_logged(client, practitioner, log):
    with_password(practitioner)
    sign_in(client, "alice")

    client.post(LOGOUT_URL)

    event = SecurityEvent.objects.get(kind=SecurityEventKind.LOGOUT)
    assert event.user == practitioner
    assert event.route == "POST /accounts/logout/"
    assert "logout user=alice route=POST /accounts/logout/ status=-" in _security_lines(log)


def test_an_expired_session_is_logged(client, practitioner, log):
    with_password(practitioner)
    sign_in(client, "alice")
    age_session(client, 31 * 60)

    client.get("/")

    event = SecurityEvent.objects.get(kind=SecurityEventKind.SESSION_EXPIRED)
    assert event.user == practitioner
    assert "session_expired user=alice route=idle status=-" in _security_lines(log)


def test_second_factors_given_and_refused_are_logged_without_the_code(client, manager, log):
    with_password(manager)
    device = TOTPDevice.objects.create(user=manager, name="app", confirmed=True)
    bad = wrong_code(device)
    sign_in(client, "mandy")
    client.post(VERIFY_URL, {"otp_token": bad})
    TOTPDevice.objects.filter(pk=device.pk).update(throttling_failure_timestamp=None, throttling_failure_count=0)
    good = code_for(device)
    client.post(VERIFY_URL, {"otp_token": good})

    assert _kinds(username="mandy") == ["login", "two_factor_failed", "two_factor_ok"]
    lines = _security_lines(log)
    assert "two_factor_failed user=mandy route=POST /accounts/two-factor/verify/ status=-" in lines
    assert "two_factor_ok user=mandy route=POST /accounts/two-factor/verify/ status=-" in lines
    for code in (bad, good):
        assert code not in _every_stored_string()
        assert not any(code in line for line in lines)


def test_another_teams_family_page_404_is_logged(client, other_team_user, family, log):
    client.force_login(other_team_user)

    response = client.get(f"/families/{family.pk}/")

    assert response.status_code == 404
    event = SecurityEvent.objects.get(kind=SecurityEventKind.REFUSED)
    assert (event.user, event.status_code, event.route) == (other_team_user, 404, f"GET /families/{family.pk}/")
    assert f"refused user=charlie route=GET /families/{family.pk}/ status=404" in _security_lines(log)


def test_an_api_404_is_logged_with_the_tokens_user(api, unshared_partner, family, log):
    response = api.as_user(unshared_partner).get(f"/api/v1/families/{family.pk}/")

    assert response.status_code == 404
    event = SecurityEvent.objects.get(kind=SecurityEventKind.REFUSED)
    assert (event.user, event.status_code) == (unshared_partner, 404)
    assert event.route == f"GET /api/v1/families/{family.pk}/"


def test_a_bad_token_401_is_logged_without_the_token(api, family, log):
    bogus = "0123456789abcdef0123456789abcdef01234567"
    api.credentials(HTTP_AUTHORIZATION=f"Token {bogus}")

    response = api.get("/api/v1/families/")

    assert response.status_code == 401
    event = SecurityEvent.objects.get(kind=SecurityEventKind.REFUSED)
    assert (event.user, event.username, event.status_code) == (None, "", 401)
    assert bogus not in _every_stored_string()
    assert bogus not in log.text


def test_a_403_is_logged(client, partner, log):
    client.force_login(partner)

    response = client.get("/families/add/")

    assert response.status_code == 403
    event = SecurityEvent.objects.get(kind=SecurityEventKind.REFUSED)
    assert (event.user, event.status_code) == (partner, 403)


def test_an_api_403_before_the_second_factor_is_logged(client, manager, log):
    with_password(manager)
    sign_in(client, "mandy")

    assert client.get("/api/v1/me/").status_code == 403

    event = SecurityEvent.objects.get(kind=SecurityEventKind.REFUSED)
    assert (event.user, event.status_code, event.route) == (manager, 403, "GET /api/v1/me/")


def test_a_query_string_is_never_logged(client, other_team_user, family, log):
    client.force_login(other_team_user)

    client.get(f"/families/{family.pk}/?q=Kai+Smith+born+2021")

    assert "Kai" not in _every_stored_string()
    assert "Kai" not in log.text


def test_nothing_is_logged_for_a_successful_request(client, practitioner, family, share, partner, api, log):
    client.force_login(practitioner)
    token_client = api.as_user(partner)
    before = SecurityEvent.objects.count()
    log.clear()

    assert client.get(f"/families/{family.pk}/").status_code == 200
    assert client.get("/").status_code == 200
    assert token_client.get(f"/api/v1/families/{family.pk}/").status_code == 200
    assert token_client.get("/api/v1/me/").status_code == 200

    assert SecurityEvent.objects.count() == before
    assert _security_lines(log) == []


def test_a_whole_session_reads_as_one_story(practitioner, family):
    """Sign in, a refused page, sign out: three rows, in order, for the one person."""
    with_password(practitioner)
    client = Client()
    sign_in(client, "alice")
    client.get("/families/999999/")
    client.post(LOGOUT_URL)

    assert _kinds(username="alice") == ["login", "refused", "logout"]


@pytest.mark.parametrize(
    "request_with_a_line_break",
    [
        lambda c: c.post(
            "/accounts/login/", {"username": "x\nlogin user=root route=POST /accounts/login/ status=-", "password": "p"}
        ),
        lambda c: c.get("/nothing%0Alogin%20user=root%20route=GET%20/%20status=-/"),
    ],
    ids=["typed username", "path"],
)
def test_a_line_break_cannot_forge_a_log_line(client, log, request_with_a_line_break):
    request_with_a_line_break(client)

    lines = _security_lines(log)
    assert lines
    assert not any("\n" in line or "\r" in line for line in lines)
