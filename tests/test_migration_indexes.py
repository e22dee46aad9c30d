"""Swapping an index on a live table (safeguarding/migration_indexes.py): an invalid index left by
a failed concurrent build is rebuilt, and the old index is dropped only once the new one is valid."""

from __future__ import annotations

import pytest
from django.db import IntegrityError, connection

from safeguarding.migration_indexes import swap_index

pytestmark = pytest.mark.django_db(transaction=True)  # CREATE INDEX CONCURRENTLY: no transaction


def _indexes() -> dict[str, bool]:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT c.relname, i.indisvalid FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid "
            "JOIN pg_class t ON t.oid = i.indrelid WHERE t.relname = 'swap_index_probe'"
        )
        return dict(cursor.fetchall())


@pytest.fixture
def probe_table():
    if connection.vendor != "postgresql":
        pytest.skip("concurrent index builds are PostgreSQL's")
    with connection.cursor() as cursor:
        cursor.execute("CREATE TABLE swap_index_probe (a int, b int)")
        cursor.execute("INSERT INTO swap_index_probe VALUES (1, 1), (1, 1)")
        cursor.execute('CREATE INDEX "probe_old" ON swap_index_probe (a)')
    yield
    with connection.cursor() as cursor:
        cursor.execute("DROP TABLE swap_index_probe")


def test_the_old_index_goes_once_the_new_one_is_built(probe_table):
    with connection.schema_editor(atomic=False) as editor:
        swap_index(editor, table="swap_index_probe", new="probe_new", new_columns=["a", "b"], old="probe_old")
    assert _indexes() == {"probe_new": True}


def test_an_invalid_index_from_a_failed_build_is_built_again(probe_table):
    # A unique index over duplicate rows fails half way, leaving an INVALID index of that name,
    # which IF NOT EXISTS alone would take for a finished one.
    with connection.cursor() as cursor, pytest.raises(IntegrityError):
        cursor.execute('CREATE UNIQUE INDEX CONCURRENTLY "probe_new" ON swap_index_probe (a, b)')
    assert _indexes() == {"probe_old": True, "probe_new": False}

    with connection.schema_editor(atomic=False) as editor:
        swap_index(editor, table="swap_index_probe", new="probe_new", new_columns=["a", "b"], old="probe_old")
    assert _indexes() == {"probe_new": True}
