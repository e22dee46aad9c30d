"""Running the checks: open new flags, keep those still true, resolve those no longer true.

One transaction per chunk of families; running twice gives the same open flags (the database
allows one open flag per family + rule + member). Rules are evaluated set-based over the chunk,
so the queries per chunk do not grow with its contents.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

from django.db import IntegrityError, connection, transaction
from django.db.models import Q, QuerySet
from django.utils import timezone

from cases.models import Family, FamilyStatus
from escalation.models import SEVERITY_ORDER, CheckRun, CheckRunKind, CheckSettings, Flag, FlagStatus, Severity
from escalation.rules import Finding, Scope, get_rules

from .prompts import escalate_overdue, raise_prompts

logger = logging.getLogger(__name__)


@dataclass
class ChunkSpec:
    """A chunk is an inclusive id range (full runs) or a list of ids (incremental runs)."""

    lo: int | None = None
    hi: int | None = None
    ids: list[int] | None = None

    def families(self) -> QuerySet[Family]:
        if self.ids is not None:
            return Family.objects.filter(id__in=self.ids)
        return Family.objects.filter(id__gte=self.lo, id__lte=self.hi)

    def as_kwargs(self) -> dict:
        return {"lo": self.lo, "hi": self.hi, "ids": self.ids}


@dataclass
class RunReport:
    opened: Counter = field(default_factory=Counter)
    kept: Counter = field(default_factory=Counter)
    resolved: Counter = field(default_factory=Counter)
    prompts_raised: int = 0
    prompts_escalated: int = 0
    families: int = 0
    chunks: int = 0

    def merge(self, other: RunReport | dict) -> RunReport:
        if isinstance(other, dict):
            other = RunReport.from_dict(other)
        self.opened.update(other.opened)
        self.kept.update(other.kept)
        self.resolved.update(other.resolved)
        self.prompts_raised += other.prompts_raised
        self.prompts_escalated += other.prompts_escalated
        self.families += other.families
        self.chunks += other.chunks
        return self

    def to_dict(self) -> dict:
        return {
            "opened": dict(self.opened),
            "kept": dict(self.kept),
            "resolved": dict(self.resolved),
            "prompts_raised": self.prompts_raised,
            "prompts_escalated": self.prompts_escalated,
            "families": self.families,
            "chunks": self.chunks,
        }

    @classmethod
    def from_dict(cls, data: dict) -> RunReport:
        return cls(
            opened=Counter(data.get("opened", {})),
            kept=Counter(data.get("kept", {})),
            resolved=Counter(data.get("resolved", {})),
            prompts_raised=data.get("prompts_raised", 0),
            prompts_escalated=data.get("prompts_escalated", 0),
            families=data.get("families", 0),
            chunks=data.get("chunks", 0),
        )


def _changed(flag: Flag, finding: Finding) -> bool:
    return flag.severity != finding.severity or flag.detail != finding.detail or flag.evidence != finding.evidence


def _in_chunk(qs: QuerySet, chunk: ChunkSpec) -> QuerySet:
    """Rows of the chunk's families, by family id (a range scan of the table's family index)."""
    if chunk.ids is not None:
        return qs.filter(family_id__in=chunk.ids)
    return qs.filter(family_id__gte=chunk.lo, family_id__lte=chunk.hi)


def _findings(rule, scope: Scope, existing: dict[tuple, tuple[int, str, str]]) -> tuple[list[Finding], list[tuple]]:
    """The rule's findings to compare with their flags (new or maybe changed), and the keys of the
    open flags it vouches are unchanged.

    A two-phase rule (`detect` + `explain`) finds cheaply first: a finding whose open flag has the
    same severity and the same non-empty signature is unchanged, so no detail or evidence is built
    for it, and its flag only gets a new `last_seen`. Other rules evaluate in full."""
    if not hasattr(rule, "detect"):
        return rule.evaluate(scope), []
    stale, unchanged = [], []
    for finding in rule.detect(scope):
        key = (rule.code, finding.family_id, finding.member_id)
        row = existing.get(key)
        if row is not None and finding.signature and row[2] == finding.signature and row[1] == finding.severity:
            unchanged.append(key)
        else:
            stale.append(finding)
    return rule.explain(scope, stale), unchanged


def check_chunk(
    *,
    chunk: ChunkSpec,
    rule_codes: list[str] | None = None,
    as_of: dt.datetime | None = None,
    attempts: int = 2,
    cfg: CheckSettings | None = None,
) -> RunReport:
    """Evaluate the rules over one chunk and reconcile its flags, in one transaction.

    A concurrent run (an incremental run overlapping the nightly one) can open the same flag first;
    the unique constraint then refuses ours, and re-running the chunk finds and keeps it.
    """
    for attempt in range(attempts):
        try:
            return _check_chunk(
                chunk=chunk, rule_codes=rule_codes, as_of=as_of or timezone.now(), cfg=cfg or CheckSettings.load()
            )
        except IntegrityError:
            if attempt + 1 == attempts:
                raise
            logger.info("checks: chunk %s raced another run; evaluating again", chunk.as_kwargs())
    raise AssertionError("unreachable")  # pragma: no cover


@transaction.atomic
def _check_chunk(
    *, chunk: ChunkSpec, rule_codes: list[str] | None, as_of: dt.datetime, cfg: CheckSettings
) -> RunReport:
    rules = get_rules(rule_codes)
    report = RunReport(chunks=1)
    in_chunk = chunk.families()
    id_range = (chunk.lo, chunk.hi) if chunk.ids is None else None
    scope = Scope(families=in_chunk.filter(status=FamilyStatus.OPEN), as_of=as_of, cfg=cfg, id_range=id_range)
    report.families = in_chunk.count()
    if connection.vendor == "postgresql":
        # A chunk's queries are small: starting parallel query workers costs more than they save
        # (measured: 2.0 s against 1.2 s over a full `was_not_brought` run). The Celery workers are
        # the parallelism.
        with connection.cursor() as cursor:
            cursor.execute("SET LOCAL max_parallel_workers_per_gather = 0")

    codes = [r.code for r in rules]
    # The open flags as (id, severity, signature): full rows are read below only for the flags found
    # again that no signature vouched for.
    existing: dict[tuple, tuple[int, str, str]] = {
        (rule, family_id, member_id): (pk, severity, signature)
        for pk, rule, family_id, member_id, severity, signature in _in_chunk(
            Flag.objects.filter(status=FlagStatus.OPEN, rule__in=codes), chunk
        ).values_list("id", "rule", "family_id", "member_id", "severity", "signature")
    }
    new: list[Flag] = []
    unchanged_ids: list[int] = []
    seen: set[tuple] = set()
    found_again: dict[int, Finding] = {}
    for rule in rules:
        findings, unchanged = _findings(rule, scope, existing)
        for key in unchanged:
            seen.add(key)
            unchanged_ids.append(existing[key][0])
            report.kept[rule.code] += 1
        for finding in findings:
            key = (rule.code, finding.family_id, finding.member_id)
            if key in seen:  # a rule returns one finding per family + member
                continue
            seen.add(key)
            if key not in existing:
                new.append(
                    Flag(
                        family_id=finding.family_id,
                        member_id=finding.member_id,
                        rule=rule.code,
                        severity=finding.severity,
                        detail=finding.detail,
                        evidence=finding.evidence,
                        signature=finding.signature,
                        first_seen=as_of,
                        last_seen=as_of,
                        updated_at=as_of,
                    )
                )
                report.opened[rule.code] += 1
            else:
                report.kept[rule.code] += 1
                found_again[existing[key][0]] = finding

    refreshed: list[Flag] = []  # what a reader sees changed: a new `updated_at`
    resigned: list[Flag] = []  # the same detail and evidence under a new signature
    upgraded: list[Flag] = []
    for flag in Flag.objects.filter(pk__in=list(found_again)) if found_again else ():
        finding = found_again[flag.pk]
        if _changed(flag, finding):
            if SEVERITY_ORDER[finding.severity] > SEVERITY_ORDER[flag.severity]:
                upgraded.append(flag)
            flag.severity, flag.detail, flag.evidence = finding.severity, finding.detail, finding.evidence
            flag.signature = finding.signature
            flag.last_seen = flag.updated_at = as_of
            refreshed.append(flag)
        elif flag.signature != finding.signature:
            flag.signature, flag.last_seen = finding.signature, as_of
            resigned.append(flag)
        else:
            unchanged_ids.append(flag.pk)
    gone = [row[0] for key, row in existing.items() if key not in seen]
    for key in existing:
        if key not in seen:
            report.resolved[key[0]] += 1

    if new:
        with transaction.atomic():  # a savepoint, so a race is reported as IntegrityError cleanly
            Flag.objects.bulk_create(new)
    if refreshed:
        Flag.objects.bulk_update(refreshed, ["severity", "detail", "evidence", "signature", "last_seen", "updated_at"])
    if resigned:
        Flag.objects.bulk_update(resigned, ["signature", "last_seen"])
    if unchanged_ids:
        Flag.objects.filter(pk__in=unchanged_ids).update(last_seen=as_of)
    if gone:
        Flag.objects.filter(pk__in=gone, status=FlagStatus.OPEN).update(
            status=FlagStatus.RESOLVED, resolved_at=as_of, updated_at=as_of
        )
    # A new flag needs a decision; so does one that has become high (it now goes to the team manager).
    prompts = raise_prompts(
        flags=new, upgraded=[f for f in upgraded if f.severity == Severity.HIGH], as_of=as_of, cfg=cfg
    )
    report.prompts_raised = len(prompts)
    return report


# --- planning a run ------------------------------------------------------------------------


def _ranges(ids: list[int], size: int) -> Iterator[ChunkSpec]:
    for i in range(0, len(ids), size):
        part = ids[i : i + size]
        yield ChunkSpec(lo=part[0], hi=part[-1])


def plan_full(*, chunk_size: int | None = None) -> list[ChunkSpec]:
    """Chunks of about `chunk_size` families by id range, over every family (closed ones too, so
    their flags resolve)."""
    size = chunk_size or CheckSettings.load().chunk_size
    ids = list(Family.objects.order_by("id").values_list("id", flat=True))
    return list(_ranges(ids, size))


def changed_since(since: dt.datetime) -> list[int]:
    """Families changed since `since`. Every write that a check reads (members, relationships,
    information gaps, shares, referrals, visits, appointments, decisions on prompts) touches the
    family's `updated_at` in its own transaction, so this one column covers them all."""
    return list(Family.objects.filter(Q(updated_at__gte=since)).order_by("id").values_list("id", flat=True))


def plan_incremental(*, since: dt.datetime, chunk_size: int | None = None) -> list[ChunkSpec]:
    size = chunk_size or CheckSettings.load().chunk_size
    ids = changed_since(since)
    return [ChunkSpec(ids=ids[i : i + size]) for i in range(0, len(ids), size)]


def _oldest_open_transaction_start() -> dt.datetime | None:
    """When the oldest transaction still open on this database began (other sessions only).

    A change made in a transaction that is open now may commit after a run has read the families,
    and its `updated_at` (taken inside that transaction) is no earlier than the transaction's
    start. PostgreSQL shows every session's `xact_start` to sessions of the same database role
    (the application's). SQLite has no such view: one writer at a time, and the overlap margin
    covers a write in progress."""
    if connection.vendor != "postgresql":
        return None
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT min(xact_start) FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid() "
            "AND backend_type = 'client backend' AND xact_start IS NOT NULL"
        )
        (oldest,) = cursor.fetchone()
    return oldest


def safe_since(*, started_at: dt.datetime, cfg: CheckSettings) -> dt.datetime:
    """Where the incremental run after one starting at `started_at` must start looking: the earlier
    of `started_at` and the start of the oldest transaction open now, less the overlap margin.
    Taken before the run reads any family, so every change the run cannot see is after it."""
    point = started_at
    oldest = _oldest_open_transaction_start()
    if oldest is not None and oldest < point:
        point = oldest
        if started_at - oldest > dt.timedelta(hours=1):
            logger.warning("checks: a transaction open since %s holds back incremental runs", oldest.isoformat())
    return point - dt.timedelta(seconds=cfg.incremental_overlap_seconds)


def incremental_since() -> dt.datetime | None:
    """The starting point of the next incremental run: the safe point recorded by the latest
    finished run over every rule and family (None: there has been none, check everything)."""
    run = CheckRun.objects.filter(finished_at__isnull=False, restricted=False).order_by("-started_at").first()
    if run is None:
        return None
    return run.next_since or run.started_at


def plan_run(*, incremental: bool, cfg: CheckSettings) -> list[ChunkSpec]:
    """The chunks of a full run, or of an incremental one (a full one when no run has finished)."""
    since = incremental_since() if incremental else None
    if since is not None:
        return plan_incremental(since=since, chunk_size=cfg.chunk_size)
    return plan_full(chunk_size=cfg.chunk_size)


def start_run(
    *,
    kind: str,
    as_of: dt.datetime,
    cfg: CheckSettings,
    incremental: bool = False,
    family_ids: Iterable[int] | None = None,
    rule_codes: list[str] | None = None,
) -> tuple[CheckRun, list[ChunkSpec]]:
    """Record the run's safe point for the next incremental run, then plan its chunks (in this
    order: a change the plan cannot see is after the safe point)."""
    next_since = safe_since(started_at=as_of, cfg=cfg)
    if family_ids is not None:
        ids = sorted(set(family_ids))
        size = cfg.chunk_size
        chunks = [ChunkSpec(ids=ids[i : i + size]) for i in range(0, len(ids), size)]
    else:
        chunks = plan_run(incremental=incremental, cfg=cfg)
    run = CheckRun.objects.create(
        kind=kind,
        started_at=as_of,
        next_since=next_since,
        chunks=len(chunks),
        restricted=bool(rule_codes) or family_ids is not None,
    )
    return run, chunks


def run_checks_in_process(
    *,
    kind: str = CheckRunKind.ON_DEMAND,
    rule_codes: list[str] | None = None,
    family_ids: Iterable[int] | None = None,
    incremental: bool = False,
    as_of: dt.datetime | None = None,
) -> tuple[CheckRun, RunReport]:
    """The same work as the Celery run, chunk after chunk in this process (`manage.py run_checks`)."""
    as_of = as_of or timezone.now()
    cfg = CheckSettings.load()
    run, chunks = start_run(
        kind=kind, as_of=as_of, cfg=cfg, incremental=incremental, family_ids=family_ids, rule_codes=rule_codes
    )
    report = RunReport()
    for chunk in chunks:
        report.merge(check_chunk(chunk=chunk, rule_codes=rule_codes, as_of=as_of, cfg=cfg))
    report.prompts_escalated = escalate_overdue(as_of=as_of)
    finish_run(run=run, report=report)
    return run, report


def finish_run(*, run: CheckRun, report: RunReport) -> CheckRun:
    run.finished_at = timezone.now()
    run.chunks_done = report.chunks
    run.families = report.families
    run.counts = report.to_dict()
    run.save(update_fields=["finished_at", "chunks_done", "families", "counts"])
    return run
