"""Sessions, as a browser sees them: a new session at sign-in, signed out after 30 minutes idle
or 12 hours in all, and signing out (or an account switched off, or a new password) ends the
person's sessions server-side."""

from __future__ import annotations

import pytest
from django.test import Client

from accounts.models import UserSession
from audit.models import SecurityEvent, SecurityEventKind

from .helpers import (
    ABSOLUTE_MESSAGE,
    IDLE_MESSAGE,
    LOGIN_URL,
    LOGOUT_URL,
    age_session,
    is_signed_in,
    session_exists,
    session_key,
    sign_in,
    with_password,
)

pytestmark = pytest.mark.django_db

MINUTE = 60
HOUR = 60 * MINUTE


@pytest.fixture
def alice(practitioner):
    return with_password(practitioner)


@pytest.fixture
def signed_in(client, alice):
    assert sign_in(client, "alice").status_code == 302
    return client


# --- Sign-in --------------------------------------------------------------------------------


def test_signing_in_gives_a_new_session_id(client, alice):
    client.get(LOGIN_URL)
    _ = client.session  # a session before signing in, as a visitor who did something anonymously has
    before = session_key(client)
    assert before and session_exists(before)

    sign_in(client, "alice")

    after = session_key(client)
    assert after and after != before
    assert not session_exists(before)  # the old id is not kept, so it cannot be planted and reused
    assert session_exists(after)


def test_the_session_cookie_is_http_only_and_same_site(signed_in):
    cookie = signed_in.cookies["sessionid"]
    assert cookie["httponly"]
    assert cookie["samesite"] == "Lax"


# --- Idle and absolute limits ------------------------------------------------------------------


def test_after_thirty_minutes_idle_the_next_request_is_signed_out(signed_in):
    key = session_key(signed_in)
    age_session(signed_in, 30 * MINUTE + 5)

    response = signed_in.get("/", follow=True)

    assert response.redirect_chain[-1][0].startswith(LOGIN_URL)
    assert IDLE_MESSAGE in response.content.decode()
    assert not response.context["user"].is_authenticated
    assert not session_exists(key)
    assert not is_signed_in(signed_in)


def test_an_htmx_request_after_thirty_minutes_idle_is_signed_out_too(signed_in, family):
    age_session(signed_in, 31 * MINUTE)

    response = signed_in.get(f"/families/{family.pk}/", HTTP_HX_REQUEST="true")

    # No content for the fragment; htmx sends the whole window to sign in.
    assert response.status_code == 204
    assert response["HX-Redirect"].startswith(LOGIN_URL)
    assert not is_signed_in(signed_in)


@pytest.mark.parametrize("path", ["/", "/dashboard/"])
def test_an_htmx_request_after_thirty_minutes_idle_sends_the_whole_page_to_sign_in(signed_in, path):
    age_session(signed_in, 31 * MINUTE)

    response = signed_in.get(path, HTTP_HX_REQUEST="true")

    assert response.get("HX-Redirect", "").startswith(LOGIN_URL)


def test_twenty_nine_minutes_idle_stays_signed_in(signed_in):
    age_session(signed_in, 29 * MINUTE)

    response = signed_in.get("/")

    assert response.status_code == 200
    assert response.context["user"].username == "alice"


def test_each_request_restarts_the_idle_clock(signed_in):
    """Three 25-minute gaps (75 minutes in all) with a request in each: still signed in."""
    for _ in range(3):
        age_session(signed_in, 25 * MINUTE)
        assert signed_in.get("/").status_code == 200


def test_twelve_hours_after_sign_in_the_session_ends_even_with_activity(signed_in):
    # Signed in 12 hours ago, last request a minute ago.
    age_session(signed_in, 12 * HOUR + 5, idle=False)
    age_session(signed_in, MINUTE, since_sign_in=False)
    key = session_key(signed_in)

    response = signed_in.get("/", follow=True)

    assert response.redirect_chain[-1][0].startswith(LOGIN_URL)
    assert ABSOLUTE_MESSAGE in response.content.decode()
    assert not session_exists(key)


def test_just_under_twelve_hours_with_activity_stays_signed_in(signed_in):
    age_session(signed_in, 12 * HOUR - 5 * MINUTE, idle=False)
    age_session(signed_in, 10 * MINUTE, since_sign_in=False)

    assert signed_in.get("/").status_code == 200


def test_the_api_with_an_expired_session_is_refused(signed_in):
    age_session(signed_in, 31 * MINUTE)

    response = signed_in.get("/api/v1/me/")

    assert response.status_code in (401, 403)
    assert "username" not in response.json()


def test_an_expired_session_is_in_the_security_log(signed_in):
    age_session(signed_in, 31 * MINUTE)
    signed_in.get("/")

    event = SecurityEvent.objects.get(kind=SecurityEventKind.SESSION_EXPIRED)
    assert event.username == "alice"
    assert event.route == "idle"


# --- Signing out ------------------------------------------------------------------------------


def test_signing_out_is_post_only(signed_in):
    assert signed_in.get(LOGOUT_URL).status_code == 405
    assert is_signed_in(signed_in)


def test_signing_out_deletes_the_session_server_side(signed_in):
    old_key = session_key(signed_in)

    response = signed_in.post(LOGOUT_URL, follow=True)

    assert response.redirect_chain[-1][0].startswith(LOGIN_URL)
    assert "You have signed out." in response.content.decode()
    assert not session_exists(old_key)
    # Someone who copied the old cookie gets nowhere with it.
    replay = Client()
    replay.cookies["sessionid"] = old_key
    assert not is_signed_in(replay)
    response = replay.get("/")
    assert response.status_code == 302
    assert response["Location"].startswith(LOGIN_URL)


def test_signing_out_ends_the_persons_other_sessions(signed_in, teammate):
    laptop, phone = signed_in, Client()
    assert sign_in(phone, "alice").status_code == 302
    phone_key = session_key(phone)
    with_password(teammate)
    colleague = Client()
    sign_in(colleague, "bob")

    laptop.post(LOGOUT_URL)

    assert not session_exists(phone_key)
    assert not is_signed_in(phone)
    assert is_signed_in(colleague)  # someone else's session is untouched
    assert not UserSession.objects.filter(user__username="alice").exists()


# --- Accounts switched off, passwords changed -----------------------------------------------------


def test_switching_an_account_off_ends_every_session_and_refuses_its_token(signed_in, alice, api):
    other = Client()
    sign_in(other, "alice")
    keys = [session_key(signed_in), session_key(other)]
    token_client = api.as_user(alice)
    assert token_client.get("/api/v1/me/").status_code == 200

    alice.is_active = False
    alice.save()

    assert not any(session_exists(key) for key in keys)
    assert not is_signed_in(signed_in)
    assert not is_signed_in(other)
    assert token_client.get("/api/v1/me/").status_code == 401
    assert SecurityEvent.objects.filter(kind=SecurityEventKind.SESSIONS_ENDED, username="alice").exists()


def test_switching_an_account_off_with_update_fields_ends_its_sessions(signed_in, alice):
    key = session_key(signed_in)

    alice.is_active = False
    alice.save(update_fields=["is_active"])

    assert not session_exists(key)


def test_an_account_switched_off_in_bulk_is_signed_out_too(signed_in, alice):
    """A queryset update sends no signal, so the session rows stay; they no longer sign anyone in."""
    type(alice).objects.filter(pk=alice.pk).update(is_active=False)

    assert not is_signed_in(signed_in)


def test_saving_a_switched_on_account_keeps_its_sessions(signed_in, alice):
    alice.first_name = "Alicia"
    alice.save()

    assert is_signed_in(signed_in)


def test_a_new_password_signs_out_the_other_sessions(signed_in, alice):
    alice.set_password("A-brand-new-passphrase-99")
    alice.save()

    assert not is_signed_in(signed_in)
    assert sign_in(Client(), "alice", "A-brand-new-passphrase-99").status_code == 302
