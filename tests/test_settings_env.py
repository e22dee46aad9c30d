"""Settings come from the environment and fail loudly on a bad value."""

from __future__ import annotations

import pytest
from django.core.exceptions import ImproperlyConfigured

from safeguarding.settings.env import env_bool, env_int, env_list


def test_booleans(monkeypatch):
    monkeypatch.setenv("X_FLAG", "yes")
    assert env_bool("X_FLAG", False) is True
    monkeypatch.setenv("X_FLAG", "0")
    assert env_bool("X_FLAG", True) is False
    monkeypatch.delenv("X_FLAG")
    assert env_bool("X_FLAG", True) is True


def test_a_typo_in_a_boolean_stops_the_process(monkeypatch):
    monkeypatch.setenv("DEBUG_TYPO", "ture")
    with pytest.raises(ImproperlyConfigured, match="DEBUG_TYPO"):
        env_bool("DEBUG_TYPO", False)


def test_integers_and_lists(monkeypatch):
    monkeypatch.setenv("X_INT", "12")
    assert env_int("X_INT", 1) == 12
    monkeypatch.setenv("X_INT", "twelve")
    with pytest.raises(ImproperlyConfigured):
        env_int("X_INT", 1)
    monkeypatch.setenv("X_LIST", "a.example, b.example,")
    assert env_list("X_LIST", []) == ["a.example", "b.example"]


@pytest.mark.django_db
def test_database_connections_use_no_parallel_query_workers_by_default():
    """Short queries on a small, busy machine: a parallel plan's workers cost more than they save
    (DATABASE_PARALLEL_WORKERS allows them on a bigger database server)."""
    from django.db import connection

    if connection.vendor != "postgresql":
        pytest.skip("a PostgreSQL setting")
    with connection.cursor() as cursor:
        cursor.execute("SHOW max_parallel_workers_per_gather")
        assert cursor.fetchone()[0] == "0"


def test_the_parallel_workers_setting_joins_the_urls_own_options(monkeypatch):
    from safeguarding.settings.base import tune_database

    def tuned(options=None):
        db = {"ENGINE": "django.db.backends.postgresql", "OPTIONS": dict(options or {})}
        return tune_database(db)["OPTIONS"]

    monkeypatch.delenv("DATABASE_PARALLEL_WORKERS", raising=False)
    assert tuned() == {"options": "-c max_parallel_workers_per_gather=0"}
    assert tuned({"options": "-c statement_timeout=5000"}) == {
        "options": "-c statement_timeout=5000 -c max_parallel_workers_per_gather=0"
    }
    monkeypatch.setenv("DATABASE_PARALLEL_WORKERS", "2")
    assert tuned() == {"options": "-c max_parallel_workers_per_gather=2"}
    # Behind a pooler that refuses startup options: nothing is sent.
    monkeypatch.setenv("DATABASE_PARALLEL_WORKERS", "server")
    assert tuned({"sslmode": "require"}) == {"sslmode": "require"}
    for bad in ("-1", "two"):
        monkeypatch.setenv("DATABASE_PARALLEL_WORKERS", bad)
        with pytest.raises(ImproperlyConfigured, match="DATABASE_PARALLEL_WORKERS"):
            tuned()
    sqlite = {"ENGINE": "django.db.backends.sqlite3"}
    assert tune_database(dict(sqlite)) == sqlite
