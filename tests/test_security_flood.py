"""Anonymous requests cannot flood the security log (issue 14, item 15).

Before: each anonymous 404 wrote a SecurityEvent row, so anyone could fill the log (and the
disk) with one loop. Now anonymous requests are throttled by address everywhere, the API and
the pages alike (`ANON_RATE_LIMIT`, 429 with Retry-After), and the repeats of one refusal (same
kind, address and status within `SECURITY_REPEAT_WINDOW` seconds) are one row plus a count: the
first written at once, the rest counted in the shared cache and written as one summary row when
the window has passed (on the next such event, or by the sweep, `flush_security_repeats`). The
security tables are append-only, so no row is ever updated to raise its count.

A signed-in user's refusals are still written one by one: each names the account, is already
limited by the per-user API rate, and each may be an attempt on a restricted record that its
manager must see in full.
"""

from __future__ import annotations

import pytest
from django.db.models import Sum
from django.test import Client, override_settings

from audit import security
from audit.models import SecurityEvent, SecurityEventKind


@pytest.fixture
def clock(monkeypatch):
    """The aggregation's clock, moved on by hand."""
    now = [1_000_000.0]
    monkeypatch.setattr(security, "_now", lambda: now[0])
    return now


def refused_rows():
    return SecurityEvent.objects.filter(kind=SecurityEventKind.REFUSED)


@override_settings(ANON_RATE_LIMIT="100000/minute")
def test_a_thousand_anonymous_404s_write_a_bounded_number_of_rows_and_keep_the_count(db, clock):
    client = Client()
    for i in range(1000):
        assert client.get(f"/no-such-page-{i}/").status_code == 404
    assert refused_rows().count() <= 2
    assert refused_rows().count() == 1  # the first, at once; the rest are counted, not yet written
    first = refused_rows().get()
    assert (first.status_code, first.ip_address, first.count) == (404, "127.0.0.1", 1)

    clock[0] += 61  # the window has passed: the next refusal writes the summary, then itself
    assert client.get("/no-such-page/").status_code == 404
    rows = list(refused_rows().order_by("id"))
    assert len(rows) == 3
    summary = rows[1]
    assert summary.count == 999
    assert summary.first_at is not None and summary.first_at <= summary.at
    assert refused_rows().aggregate(total=Sum("count"))["total"] == 1001


@override_settings(ANON_RATE_LIMIT="100000/minute")
def test_the_sweep_writes_the_count_of_a_burst_that_stopped(db, clock):
    client = Client()
    for _ in range(50):
        client.get("/nothing-here/")
    assert refused_rows().count() == 1
    security.flush_security_repeats()  # within the window: nothing to write yet
    assert refused_rows().count() == 1
    clock[0] += 61
    security.flush_security_repeats()
    assert refused_rows().aggregate(total=Sum("count"))["total"] == 50
    assert refused_rows().count() == 2


@override_settings(ANON_RATE_LIMIT="100000/minute")
def test_different_addresses_and_statuses_are_kept_apart(db, clock):
    client = Client()
    for _ in range(5):
        client.get("/nothing/", REMOTE_ADDR="198.51.100.1")
        client.get("/nothing/", REMOTE_ADDR="198.51.100.2")
        client.get("/api/v1/families/", REMOTE_ADDR="198.51.100.1")  # 401 from the API
    assert sorted(refused_rows().values_list("ip_address", "status_code")) == [
        ("198.51.100.1", 401),
        ("198.51.100.1", 404),
        ("198.51.100.2", 404),
    ]


@override_settings(ANON_RATE_LIMIT="100000/minute")
def test_a_signed_in_users_refusals_are_each_written(db, clock, practitioner):
    client = Client()
    client.force_login(practitioner)
    for i in range(20):
        assert client.get(f"/families/{900000 + i}/").status_code == 404
    assert refused_rows().filter(user=practitioner).count() == 20


@override_settings(ANON_RATE_LIMIT="10/minute")
def test_anonymous_requests_are_throttled_by_address_outside_the_api(db, clock):
    client = Client()
    statuses = [client.get("/accounts/login/").status_code for _ in range(12)]
    assert statuses[:10] == [200] * 10
    assert statuses[10:] == [429, 429]
    response = client.get("/accounts/login/")
    assert response.status_code == 429
    assert 1 <= int(response["Retry-After"]) <= 60
    assert response["Content-Type"].startswith("text/plain")
    assert "Too many requests" in response.content.decode()
    # Another address is not held back, nor is the health check.
    assert client.get("/accounts/login/", REMOTE_ADDR="198.51.100.9").status_code == 200
    assert client.get("/healthz").status_code == 200
    # The throttled requests are in the security log, aggregated like any other refusal.
    assert refused_rows().filter(status_code=429).count() == 1


@override_settings(ANON_RATE_LIMIT="3/minute")
def test_signed_in_users_are_not_held_by_the_anonymous_limit(db, clock, practitioner):
    client = Client()
    client.force_login(practitioner)
    assert all(client.get("/").status_code == 200 for _ in range(10))


@override_settings(ANON_RATE_LIMIT="5/minute")
def test_the_anonymous_limit_covers_the_api_without_a_valid_token(db, clock):
    client = Client()
    statuses = [
        client.get("/api/v1/families/", HTTP_AUTHORIZATION="Token not-a-real-token").status_code for _ in range(7)
    ]
    assert statuses[:5] == [401] * 5
    assert statuses[5:] == [429, 429]


def test_a_bad_rate_is_refused_loudly():
    from django.core.exceptions import ImproperlyConfigured

    from safeguarding.middleware import parse_rate

    for bad in ("fast", "10/fortnight", "-1/minute"):
        with pytest.raises(ImproperlyConfigured, match="ANON_RATE_LIMIT"):
            parse_rate(bad)
    assert parse_rate("300/minute") == (300, 60)
    assert parse_rate("") is None


@override_settings(ANON_RATE_LIMIT="100000/minute")
def test_the_beat_task_sweeps(db, clock):
    import importlib

    from django.apps import apps
    from django_celery_beat.models import PeriodicTask

    from audit.tasks import flush_security_repeats_task

    # The migration's schedule (rebuilt here: a transactional test elsewhere may have flushed it).
    schedule = importlib.import_module("audit.migrations.0010_flush_security_repeats_schedule")
    schedule.create_schedule(apps, None)
    assert PeriodicTask.objects.filter(task=flush_security_repeats_task.name, enabled=True).exists()
    client = Client()
    for _ in range(3):
        client.get("/nothing/")
    clock[0] += 61
    assert flush_security_repeats_task.delay().get() == 1
    assert refused_rows().aggregate(total=Sum("count"))["total"] == 3


@override_settings(SIGN_IN_RATE_LIMIT="5/minute")
def test_failed_sign_ins_from_one_address_are_limited_whatever_the_usernames(db, clock, practitioner):
    client = Client()
    statuses = [
        client.post("/accounts/login/", {"username": f"guess{i}", "password": "wrong-password-123"}).status_code
        for i in range(8)
    ]
    assert statuses == [200] * 5 + [429] * 3
    assert SecurityEvent.objects.filter(kind=SecurityEventKind.LOGIN_FAILED).count() == 5
    # Another address may still sign in; the page itself (GET) is not a sign-in attempt.
    assert client.get("/accounts/login/").status_code == 200
    other = Client(REMOTE_ADDR="198.51.100.7")
    assert other.post("/accounts/login/", {"username": "guess9", "password": "x" * 12}).status_code == 200
