"""Lock-out (django-axes), as a person at the sign-in page sees it: 10 wrong passwords lock a
username for 30 minutes, and nothing in the responses tells whether the username exists."""

from __future__ import annotations

import pytest
from django.conf import settings

from audit.models import SecurityEvent, SecurityEventKind

from .helpers import (
    LOCKED_OUT_HEADING,
    PASSWORD,
    WRONG_PASSWORD_MESSAGE,
    age_lockout,
    is_signed_in,
    normalised,
    sign_in,
    with_password,
)

pytestmark = pytest.mark.django_db

WRONG = "not-the-password-1"
LOCKED = 429  # what django-axes answers a locked username with (AXES_HTTP_RESPONSE_CODE's default)


@pytest.fixture
def client_factory():
    """Another browser: no cookies shared with `client`."""
    from django.test import Client

    return Client


def test_the_limit_is_ten_and_the_cool_off_thirty_minutes():
    assert settings.AXES_FAILURE_LIMIT == 10
    assert settings.AXES_COOLOFF_TIME == 0.5  # hours
    assert settings.AXES_LOCKOUT_PARAMETERS == ["username"]


def test_nine_wrong_passwords_then_the_right_one_signs_in(client, practitioner):
    with_password(practitioner)
    for _ in range(9):
        response = sign_in(client, "alice", WRONG)
        assert response.status_code == 200
        assert WRONG_PASSWORD_MESSAGE in response.content.decode()

    response = sign_in(client, "alice")

    assert response.status_code == 302
    assert response["Location"] == "/"
    assert is_signed_in(client)


def test_a_success_resets_the_count(client, practitioner):
    """AXES_RESET_ON_SUCCESS: 9 wrong, a sign-in, then 9 more wrong do not lock."""
    with_password(practitioner)
    for _ in range(9):
        sign_in(client, "alice", WRONG)
    assert sign_in(client, "alice").status_code == 302
    client.post("/accounts/logout/")
    for _ in range(9):
        assert sign_in(client, "alice", WRONG).status_code == 200

    assert sign_in(client, "alice").status_code == 302


def test_ten_wrong_passwords_lock_the_username(client, practitioner):
    with_password(practitioner)
    statuses = [sign_in(client, "alice", WRONG).status_code for _ in range(10)]
    # The tenth failure is answered with the lock-out page already.
    assert statuses == [200] * 9 + [LOCKED]

    response = sign_in(client, "alice")  # the right password, too late

    assert response.status_code == LOCKED
    body = response.content.decode()
    assert LOCKED_OUT_HEADING in body
    assert "Wait 30 minutes" in body
    assert WRONG_PASSWORD_MESSAGE not in body
    assert not is_signed_in(client)


def test_a_locked_username_is_locked_from_every_browser(client, client_factory, practitioner):
    """The lock is on the username, not the browser or its cookies."""
    with_password(practitioner)
    for _ in range(10):
        sign_in(client, "alice", WRONG)

    fresh = client_factory()
    response = sign_in(fresh, "alice")

    assert response.status_code == LOCKED
    assert not is_signed_in(fresh)


def _attempts(client, username: str, passwords: list[str]) -> list[tuple[int, str]]:
    results = []
    for password in passwords:
        response = client.post("/accounts/login/", {"username": username, "password": password})
        # Header names and values, but for those that hold the time of day or the page's length.
        headers = sorted(
            (name, "-" if name in ("Content-Length", "Expires", "Date") else value)
            for name, value in response.headers.items()
        )
        cookies = sorted(response.cookies)
        page = normalised(response.content.decode(), username)
        results.append((response.status_code, f"{headers}\n{cookies}\n{page}"))
    return results


def test_an_unknown_username_gets_exactly_the_same_responses(client, client_factory, practitioner):
    """Attempts 1..11 (the 11th with the real user's right password) for a real and a made-up
    username: the same status codes, headers, cookies and pages, word for word."""
    with_password(practitioner)
    passwords = [WRONG] * 10 + [PASSWORD]

    real = _attempts(client, "alice", passwords)
    made_up = _attempts(client_factory(), "nosuchperson", passwords)

    assert [status for status, _ in real] == [status for status, _ in made_up] == [200] * 9 + [LOCKED] * 2
    for attempt, ((_, real_page), (_, made_up_page)) in enumerate(zip(real, made_up, strict=True), start=1):
        assert real_page == made_up_page, f"attempt {attempt} tells the two usernames apart"


def test_the_wrong_password_message_is_the_same_for_an_existing_and_an_unknown_user(client, practitioner):
    with_password(practitioner)
    existing = sign_in(client, "alice", WRONG).content.decode()
    unknown = sign_in(client, "nosuchperson", WRONG).content.decode()

    assert WRONG_PASSWORD_MESSAGE in existing
    assert WRONG_PASSWORD_MESSAGE in unknown
    assert normalised(existing, "alice") == normalised(unknown, "nosuchperson")


def test_a_switched_off_account_is_not_told_apart_either(client, practitioner):
    """The right password of a switched-off account gets the wrong-password message, not
    'switched off' (which would confirm the password)."""
    with_password(practitioner)
    practitioner.is_active = False
    practitioner.save()

    response = sign_in(client, "alice")

    assert response.status_code == 200
    assert WRONG_PASSWORD_MESSAGE in response.content.decode()
    assert not is_signed_in(client)


def test_the_lock_out_is_in_the_security_log(client, practitioner):
    with_password(practitioner)
    for _ in range(10):
        sign_in(client, "alice", WRONG)

    event = SecurityEvent.objects.filter(kind=SecurityEventKind.LOCKED_OUT).first()

    assert event is not None
    assert event.username == "alice"
    assert event.route == "POST /accounts/login/"
    assert event.ip_address == "127.0.0.1"


def test_the_lock_is_per_username(client, client_factory, practitioner, teammate):
    with_password(practitioner)
    with_password(teammate)
    for _ in range(10):
        sign_in(client, "alice", WRONG)

    other = client_factory()
    response = sign_in(other, "bob")

    assert response.status_code == 302
    assert is_signed_in(other)
    assert sign_in(client_factory(), "alice").status_code == LOCKED


def test_the_lock_lasts_thirty_minutes(client, practitioner):
    with_password(practitioner)
    for _ in range(10):
        sign_in(client, "alice", WRONG)

    age_lockout("alice", minutes=29)
    assert sign_in(client, "alice").status_code == LOCKED

    age_lockout("alice", minutes=31)  # well past the cool-off since the last attempt
    response = sign_in(client, "alice")

    assert response.status_code == 302
    assert is_signed_in(client)


FULL_WIDTH_ALICE = "\uff41\uff4c\uff49\uff43\uff45"  # 'alice' in full-width letters: the same name after NFKC


@pytest.mark.parametrize("variant", [" alice", "alice ", FULL_WIDTH_ALICE])
def test_a_username_typed_differently_shares_the_lock(client, client_factory, practitioner, variant):
    """The form tidies the username (spaces, Unicode forms) before it is checked: the lock is
    counted, and applied, to the tidied name, so typing it differently is no way round it."""
    with_password(practitioner)
    for _ in range(10):
        sign_in(client, variant, WRONG)

    assert sign_in(client_factory(), "alice").status_code == LOCKED
    assert sign_in(client_factory(), variant).status_code == LOCKED
