"""API rate limits, per token: a runaway partner sync is slowed, and no one else is."""

from __future__ import annotations

import pytest
from django.conf import settings
from django.test import override_settings

pytestmark = pytest.mark.django_db


def _rates(**rates):
    return override_settings(REST_FRAMEWORK={**settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": rates})


@pytest.fixture
def low_limits():
    with _rates(user="3/minute", anon="2/minute"):
        yield


def _token_client(user):
    from rest_framework.test import APIClient

    from accounts.tests.factories import api_token_for

    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {api_token_for(user)}")
    return client


def test_the_fourth_request_in_a_minute_gets_429_with_retry_after(low_limits, partner):
    client = _token_client(partner)

    statuses = [client.get("/api/v1/me/").status_code for _ in range(3)]
    response = client.get("/api/v1/me/")

    assert statuses == [200, 200, 200]
    assert response.status_code == 429
    retry_after = int(response["Retry-After"])
    assert 0 < retry_after <= 60
    assert "detail" in response.json()


def test_the_limit_is_per_token(low_limits, partner, unshared_partner):
    busy = _token_client(partner)
    for _ in range(4):
        busy.get("/api/v1/me/")
    assert busy.get("/api/v1/me/").status_code == 429

    other = _token_client(unshared_partner)

    assert other.get("/api/v1/me/").status_code == 200


def test_the_limit_counts_every_endpoint(low_limits, partner):
    client = _token_client(partner)
    for path in ("/api/v1/me/", "/api/v1/families/", "/api/v1/agencies/"):
        assert client.get(path).status_code == 200

    assert client.get("/api/v1/families/").status_code == 429


def test_the_rates_come_from_settings_at_each_request(partner):
    client = _token_client(partner)
    with _rates(user="1/minute", anon="1/minute"):
        assert client.get("/api/v1/me/").status_code == 200
        assert client.get("/api/v1/me/").status_code == 429
    # The real limit is far higher: the same token carries on.
    assert client.get("/api/v1/me/").status_code == 200
