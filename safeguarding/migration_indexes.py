"""Swapping one index for another on a live table, for migrations.

On PostgreSQL both steps run CONCURRENTLY, so the table can be written meanwhile. A concurrent
build that fails or is cancelled leaves an INVALID index behind under the new name: it is dropped
and built again, and the old index is dropped only once the new one is valid, so the table is
never left without a usable index.
"""

from __future__ import annotations


def _is_valid(schema_editor, name: str) -> bool | None:
    """True or False for an index of that name on PostgreSQL, None if there is none."""
    with schema_editor.connection.cursor() as cursor:
        cursor.execute(
            "SELECT i.indisvalid FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid WHERE c.relname = %s", [name]
        )
        row = cursor.fetchone()
    return None if row is None else row[0]


def swap_index(schema_editor, *, table: str, new: str, new_columns: list[str], old: str) -> None:
    """Build index `new` on `table`(`new_columns`), then drop index `old`."""
    postgresql = schema_editor.connection.vendor == "postgresql"
    concurrently = "CONCURRENTLY " if postgresql else ""
    columns = ", ".join(f'"{c}"' for c in new_columns)
    if postgresql and _is_valid(schema_editor, new) is False:
        schema_editor.execute(f'DROP INDEX CONCURRENTLY IF EXISTS "{new}"')
    schema_editor.execute(f'CREATE INDEX {concurrently}IF NOT EXISTS "{new}" ON "{table}" ({columns})')
    if postgresql and not _is_valid(schema_editor, new):
        raise RuntimeError(f"index {new} on {table} was not built; {old} is kept")
    schema_editor.execute(f'DROP INDEX {concurrently}IF EXISTS "{old}"')
