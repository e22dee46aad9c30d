"""The pages state the limits actually configured, not fixed numbers."""

from __future__ import annotations

import pytest

from accounts.services import duration_words

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    ("seconds", "words"),
    [(1800, "30 minutes"), (43200, "12 hours"), (3600, "1 hour"), (60, "1 minute"), (90, "1 minute")],
)
def test_duration_words(seconds, words):
    assert duration_words(seconds) == words


def test_the_lock_out_page_says_how_long_the_lock_lasts(client, practitioner):
    for _ in range(10):
        response = client.post("/accounts/login/", {"username": "alice", "password": "wrong-password-here"})
    assert response.status_code == 429
    assert "Wait 30 minutes and try again" in response.content.decode()


def test_the_account_page_states_the_configured_session_limits(client, practitioner, settings):
    settings.SESSION_IDLE_TIMEOUT = 15 * 60
    client.force_login(practitioner)
    html = client.get("/accounts/").content.decode()
    assert "signed out after 15 minutes without activity, and 12 hours after you signed in" in html
