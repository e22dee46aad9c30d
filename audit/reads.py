"""Read rows written by the query that reads the records: `logged_reads(queryset, ...)`.

A list page (the caseload, the dashboard, an API list) used to read its page and then write one
VIEW row per record in a second statement. On PostgreSQL that second round trip, made after the
page's other work, cost about a millisecond on its own: more than the whole budget for audit
logging (issue 7). Here the page's own SELECT carries the INSERT, as a data-modifying CTE:

    WITH audit_page AS MATERIALIZED (
        SELECT q.*, row_number() OVER () AS audit_n FROM (<the ORM's SQL>) AS q(audit_c0, ...)
    ), audit_logged AS (
        INSERT INTO audit_auditevent (...) SELECT ..., audit_c<id>, audit_c<family> ...
        FROM audit_page WHERE audit_n <= <first>
    )
    SELECT audit_c0, ... FROM audit_page ORDER BY audit_n

so the rows are read and their read rows written in one statement, one transaction, one round
trip: a page is never sent without its log rows, and a log row is never written for a page that
was not read. The columns come back in the ORM's order and shape, so everything the ORM does
with them (model instances, `select_related`, `values()`, converters) is unchanged.

The rows are logged when the queryset is *evaluated* for its rows: a count (a paginator's), an
`exists()`, an `explain()`, or its use as a subquery write nothing. Each evaluation logs: the
caller reads the page once (`list(page.object_list)`), as Django's result cache does for one
queryset; a clone evaluated again (`page.object_list[0]` on an unevaluated page) logs again.
`first`: only the first n rows read are logged (a cursor paginator reads one row more than it
shows, to know whether there is a next page). Other databases (SQLite, for the demo) have no
data-modifying CTE, and a read replica (behind a router) takes no writes: there the rows are read,
then logged by `audit_reads` straight after, in the same call.

A VIEW read in autocommit is committed without waiting for the WAL flush, as `audit_reads`
explains; inside a transaction, or for any other action, the commit stays synchronous.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from typing import Any

from django.db import models, router
from django.db.models.expressions import Col
from django.db.models.sql import Query
from django.db.models.sql.constants import GET_ITERATOR_CHUNK_SIZE, MULTI
from django.utils import timezone

from .context import current_route, note_families_read
from .models import AuditAction, AuditEvent
from .services import audit_reads


@dataclass(frozen=True)
class ReadLog:
    """Who reads, and how each row read becomes a log row."""

    actor: Any  # a User, or None
    action: str
    label: str
    id_attname: str
    family_attname: str
    first: int | None

    @property
    def actor_id(self) -> int | None:
        return getattr(self.actor, "pk", None)


def logged_reads(
    queryset: models.QuerySet,
    *,
    actor,
    family: str = "family_id",
    first: int | None = None,
    action: str = AuditAction.VIEW,
) -> models.QuerySet:
    """`queryset`, whose rows, when it is evaluated, are written to the audit log as `action` rows
    by `actor` (one per record: its id and `family`, the attribute holding its family's id, `pk`
    for a family itself), in the statement that reads them. `first`: log only the first n."""
    query = getattr(queryset, "query", None)
    if type(query) not in (Query, LoggedReadQuery) or query.combinator:
        raise TypeError("logged_reads() needs a model queryset of one SELECT (no raw SQL, no union)")
    if first is not None and first < 1:
        raise ValueError("first must be at least 1")
    meta = queryset.model._meta
    family_field = meta.pk if family in ("pk", meta.pk.name) else meta.get_field(family)
    logged = queryset.all()
    logged.query.__class__ = LoggedReadQuery
    logged.query.read_log = ReadLog(
        actor=actor if getattr(actor, "pk", None) else None,
        action=action,
        label=meta.label_lower,
        id_attname=meta.pk.attname,
        family_attname=family_field.attname,
        first=first,
    )
    return logged


class LoggedReadQuery(Query):
    """A Query whose compiler logs the rows it reads (see the module's docstring). Clones keep the
    class and the `read_log`, so a paginator's filtering, ordering and slicing keep logging."""

    read_log: ReadLog | None = None

    def __reduce__(self):
        # A cached (pickled) queryset would carry this request's actor into another request.
        raise TypeError("a logged read is not to be pickled or cached: log each request's own reads")

    def get_compiler(self, using=None, connection=None, elide_empty=True):
        compiler = super().get_compiler(using, connection, elide_empty)
        compiler.__class__ = _logged_compiler_class(type(compiler))
        return compiler


@cache
def _logged_compiler_class(base: type) -> type:
    return type(f"LoggedRead{base.__name__}", (LoggedReadCompilerMixin, base), {})


_INSERT_COLUMNS = "at, actor_id, action, model, object_id, family_id, route, changes"


class LoggedReadCompilerMixin:
    """Mixed into the backend's own SELECT compiler (PostgreSQL's differs from the base one)."""

    _wrap_sql = False

    def execute_sql(self, result_type=MULTI, chunked_fetch=False, chunk_size=GET_ITERATOR_CHUNK_SIZE):
        log = self.query.read_log
        if result_type != MULTI or log is None or self.query.explain_info:
            # A count, an exists(), an explain(): no record read.
            return super().execute_sql(result_type, chunked_fetch, chunk_size)
        if self.query.combinator:  # a union made after logged_reads(): rows of other querysets
            raise TypeError("logged_reads() cannot log a union: log each queryset's own rows")
        # Never chunked: a server-side cursor (`.iterator()`) cannot hold a data-modifying
        # statement, and elsewhere the rows are logged once all are read. In the statement only
        # where the log is written (a read replica, behind a router, is read, then logged).
        if self.connection.vendor == "postgresql" and self.using == router.db_for_write(AuditEvent):
            self._wrap_sql = True
            try:
                results = super().execute_sql(result_type, False, chunk_size)
            finally:
                self._wrap_sql = False
            _id_index, family_index = self._logged_columns()
            rows = [row for chunk in results for row in chunk]
            note_families_read(row[family_index] for row in rows[: log.first])
            return results
        results = super().execute_sql(result_type, False, chunk_size)  # every row, in chunks
        id_index, family_index = self._logged_columns()
        rows = [row for chunk in results for row in chunk]
        if log.first is not None:
            rows = rows[: log.first]
        audit_reads(
            actor=log.actor,
            model=log.label,
            rows=[(row[id_index], row[family_index]) for row in rows],
            action=log.action,
        )
        return results

    def as_sql(self, *args, **kwargs):
        sql, params = super().as_sql(*args, **kwargs)
        if not self._wrap_sql:
            return sql, params
        return self._logged_sql(sql, params)

    def _logged_columns(self) -> tuple[int, int]:
        """The positions of the record's id and its family's id among the selected columns."""
        log = self.query.read_log
        base = self.query.base_table
        positions: dict[str, int] = {}
        for index, (expression, _sql, _alias) in enumerate(self.select[: self.col_count]):
            if isinstance(expression, Col) and expression.alias == base:
                positions.setdefault(expression.target.attname, index)
        try:
            return positions[log.id_attname], positions[log.family_attname]
        except KeyError as missing:
            # Never read rows without their log rows: a query that does not select the columns
            # the log needs is a programming error, found by the first test that runs it.
            raise ValueError(
                f"A logged read of {log.label} must select {log.id_attname} and {log.family_attname}"
            ) from missing

    def _logged_sql(self, sql: str, params) -> tuple[str, tuple[Any, ...]]:
        log = self.query.read_log
        id_index, family_index = self._logged_columns()
        columns = [f"audit_c{i}" for i in range(self.col_count)]
        table = AuditEvent._meta.db_table
        conditions = []
        extra: list[Any] = [timezone.now(), log.actor_id, log.action, log.label, current_route()[:200]]
        if log.first is not None:
            conditions.append("audit_n <= %s")
            extra.append(log.first)
        if log.action == AuditAction.VIEW and self.connection.get_autocommit() and not self.connection.in_atomic_block:
            # As audit.services._INSERT_READS_ASYNC: for this statement's own transaction only.
            conditions.append("(SELECT set_config('synchronous_commit', 'off', true)) IS NOT NULL")
        where = f" WHERE {' AND '.join(conditions)}" if conditions else ""
        wrapped = (
            f"WITH audit_page AS MATERIALIZED (SELECT q.*, row_number() OVER () AS audit_n "  # noqa: S608
            f"FROM ({sql}) AS q({', '.join(columns)})), "
            f"audit_logged AS (INSERT INTO {table} ({_INSERT_COLUMNS}) "
            f"SELECT %s, %s, %s, %s, audit_c{id_index}::text, audit_c{family_index}, %s, '{{}}'::jsonb "
            f"FROM audit_page{where}) "
            f"SELECT {', '.join(columns)} FROM audit_page ORDER BY audit_n"
        )
        return wrapped, (*params, *extra)


__all__ = ["LoggedReadQuery", "ReadLog", "logged_reads"]
