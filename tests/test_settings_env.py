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
