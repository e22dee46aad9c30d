"""Web and API under load (issue 7): gunicorn with the production settings on loopback, driven by
locust (headless) with a realistic mix of practitioners, managers and partner systems, at several
concurrency levels; plus the cost of the audit log's read rows. Writes docs/performance-load.json.

    python -m bench.load [--levels 4,8,16,24] [--duration 45] [--warmup 10] [--workers 3]

Against the benchmark database (BENCH_DATABASE_URL, default .../safeguarding_bench), seeded once
with 100,000 families and reused (bench.common). Idempotent set-up, every run:

- practitioners: the seeded practitioners of the busiest teams, given a fresh random password;
- managers: `loadbench-manager-NN` in those teams, each with its own confirmed TOTP device (a code
  is accepted once per device per 30 s step, so no two simulated managers share an account);
- partners: `loadbench-partner-NN` with API tokens, for agencies with current shares (created in
  bulk, `ends` a year ahead, when fewer than --shares exist);
- the visits and appointments the load test logs are removed at the end (and any left by an
  interrupted run, at the start), so the data set does not grow from run to run.

Credentials go to a private temporary JSON file read by bench/locustfile.py; gunicorn is stopped at
the end, also on error or Ctrl-C.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import functools
import json
import os
import random
import secrets
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from bench.common import BENCH_DB_URL, DOCS, ROOT, dataset_sizes, ensure_dataset, machine, setup_django

PREFIX = "loadbench-"
PARTNER_AGENCIES = ("Northshire Health Visiting", "Northshire Police", "Northtown Primary School")
SHARE_PURPOSE = "Load benchmark (bench/load.py): partner sync of shared families"
VISIT_MARK = "Load test:"  # the start of every visit purpose and appointment note the load test writes
TEAMS = 4
BUDGETS_MS = {  # issue 7: p95 budgets per request type (types not listed have none)
    "api: families list": 100,
    "api: visits list": 100,
    "api: appointments list": 100,
    "page: dashboard": 100,
    "page: dashboard (filtered)": 100,
    "page: family": 150,
}
AUDIT_BUDGET_MS = 1.0
VENV_BIN = Path(sys.executable).parent


def _percentile(values: list[float], pct: float) -> float:
    ordered = sorted(values)
    k = max(0, min(len(ordered) - 1, round(pct / 100 * (len(ordered) - 1))))
    return ordered[k]


# --- accounts ---------------------------------------------------------------------------------


def _busiest_teams(n: int) -> list[int]:
    from django.db.models import Count, Q

    from cases.models import Team

    return list(
        Team.objects.annotate(n=Count("families", filter=Q(families__status="open")))
        .order_by("-n", "id")
        .values_list("id", flat=True)[:n]
    )


def _remove_previous_writes(users) -> dict:
    """The visits and appointments a previous load run logged (marked in their text)."""
    from visits.models import Appointment, Visit

    visits = Visit.objects.filter(created_by__in=users, purpose__startswith=VISIT_MARK)
    appointments = Appointment.objects.filter(created_by__in=users, notes__startswith=VISIT_MARK)
    return {"visits": visits.delete()[0], "appointments": appointments.delete()[0]}


def _ensure_shares(agencies, per_agency: int) -> int:
    """At least `per_agency` current shares for each partner agency, spread over every team."""
    from django.utils import timezone

    from cases.access import current_shares
    from cases.models import Family, FamilyShare

    today = timezone.localdate()
    all_ids = list(Family.objects.order_by("id").values_list("id", flat=True))
    created = 0
    for i, agency in enumerate(agencies):
        have = set(current_shares().filter(agency=agency).values_list("family_id", flat=True))
        want = per_agency - len(have)
        if want <= 0:
            continue
        rng = random.Random(f"loadbench-shares:{agency.pk}:{i}")
        candidates = [f for f in rng.sample(all_ids, min(len(all_ids), per_agency * 2)) if f not in have]
        FamilyShare.objects.bulk_create(
            FamilyShare(
                family_id=fid,
                agency=agency,
                purpose=SHARE_PURPOSE,
                legal_basis="Children Act 1989 s.47 (benchmark data)",
                starts=today - dt.timedelta(days=30),
                ends=today + dt.timedelta(days=365),
            )
            for fid in candidates[:want]
        )
        created += min(want, len(candidates))
    from django.db import connection

    with connection.cursor() as cursor:  # as autovacuum would: the planner needs the shares' real numbers
        cursor.execute("ANALYZE cases_familyshare")
    return created


def prepare_accounts(*, max_users: int, manager_accounts: int, shares_per_agency: int, out: Path) -> dict:
    """Create or refresh the accounts the simulated users sign in with; write them to `out`."""
    from axes.models import AccessAttempt
    from django.contrib.auth.hashers import make_password
    from django.db import transaction
    from django.db.models import Count, Q
    from django.utils import timezone
    from django_otp.plugins.otp_totp.models import TOTPDevice

    from accounts.services import token_issue
    from cases.access import current_shares
    from cases.models import Agency, Family, Member, MemberRole, Role, Team, User

    team_ids = _busiest_teams(TEAMS)
    teams = Team.objects.in_bulk(team_ids)
    rng = random.Random(7)
    password = secrets.token_urlsafe(18)
    hashed = make_password(password)  # one hash for every bench account: one PBKDF2 run, not one each

    with transaction.atomic():
        practitioners = list(
            User.objects.filter(team_id__in=team_ids, role=Role.PRACTITIONER, is_active=True).order_by("team_id", "id")
        )
        team_families = {}
        for tid in team_ids:
            ids = list(Family.objects.filter(team_id=tid, status="open").values_list("id", flat=True))
            team_families[tid] = rng.sample(ids, min(300, len(ids)))
        leads = {}
        for fid, lead in Family.objects.filter(
            team_id__in=team_ids, status="open", lead_professional__isnull=False
        ).values_list("id", "lead_professional_id"):
            leads.setdefault(lead, []).append(fid)

        # Managers: one account per simulated manager and run (a TOTP code is good once per device
        # per 30 s step, and runs follow each other within seconds), round the teams.
        n_managers = max(4, manager_accounts)
        council = next(iter(teams.values())).agency
        managers = []
        for i in range(1, n_managers + 1):
            team = teams[team_ids[(i - 1) % len(team_ids)]]
            user, _ = User.objects.update_or_create(
                username=f"{PREFIX}manager-{i:02d}",
                defaults={
                    "role": Role.MANAGER,
                    "agency": council,
                    "team": team,
                    "is_active": True,
                    "first_name": "Load",
                    "last_name": f"Manager {i:02d}",
                    "job_title": "Team manager (load benchmark)",
                },
            )
            device = TOTPDevice.objects.filter(user=user, confirmed=True, name="loadbench").first()
            if device is None:
                TOTPDevice.objects.filter(user=user).delete()
                device = TOTPDevice.objects.create(user=user, name="loadbench", confirmed=True)
            device.throttling_failure_count = 0
            device.throttling_failure_timestamp = None
            device.save(update_fields=["throttling_failure_count", "throttling_failure_timestamp"])
            managers.append((user, device))

        # Partners: agencies with current shares, a few systems (token users) each.
        agencies = [Agency.objects.get(name=name) for name in PARTNER_AGENCIES]
        shares_created = _ensure_shares(agencies, shares_per_agency)
        n_partners = max(len(agencies), max_users)
        partners = []
        for i in range(1, n_partners + 1):
            agency = agencies[(i - 1) % len(agencies)]
            user, _ = User.objects.update_or_create(
                username=f"{PREFIX}partner-{i:02d}",
                defaults={"role": Role.PARTNER, "agency": agency, "team": None, "is_active": True},
            )
            # Only a hash is stored, so each set-up issues a fresh key (revoking the last one).
            partners.append((user, token_issue(user=user).key))
        children = {}
        for agency in agencies:
            shared = current_shares().filter(agency=agency).values("family_id")
            children[agency.pk] = list(
                Member.objects.filter(family_id__in=shared, role=MemberRole.CHILD)
                .order_by("id")
                .values_list("id", flat=True)[:2000]
            )
            children[agency.pk] = rng.sample(children[agency.pk], min(300, len(children[agency.pk])))

        User.objects.filter(pk__in=[u.pk for u in practitioners] + [u.pk for u, _ in managers]).update(password=hashed)
        usernames = [u.username for u in practitioners] + [u.username for u, _ in managers]
        AccessAttempt.objects.filter(username__in=usernames).delete()
        removed = _remove_previous_writes([u.pk for u in practitioners] + [u.pk for u, _ in partners])

    # Partners sync from before every record (a first or catch-up sync), or incrementally.
    share_counts = {a.name: current_shares().filter(agency=a).count() for a in agencies}
    oldest = Family.objects.order_by("updated_at").values_list("updated_at", flat=True).first() or timezone.now()
    catch_up_since = (oldest - dt.timedelta(days=1)).astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    accounts = {
        "password": password,
        "practitioners": [
            {
                "username": u.username,
                "team": u.team_id,
                "lead_families": leads.get(u.pk, [])[:100],
                "team_families": team_families[u.team_id],
            }
            for u in practitioners
        ],
        "managers": [
            {
                "username": u.username,
                "team": u.team_id,
                "totp_key": d.key,
                "team_families": team_families[u.team_id],
            }
            for u, d in managers
        ],
        "partners": [
            {"username": u.username, "token": t, "agency": u.agency_id, "children": children[u.agency_id]}
            for u, t in partners
        ],
        "catch_up_since": catch_up_since,
        "mark": VISIT_MARK,
    }
    out.write_text(json.dumps(accounts))
    out.chmod(0o600)
    team_sizes = dict(
        Family.objects.filter(team_id__in=team_ids)
        .values("team_id")
        .annotate(n=Count("id"), open=Count("id", filter=Q(status="open")))
        .values_list("team_id", "n")
    )
    return {
        "teams": [{"name": teams[t].name, "families": team_sizes.get(t, 0)} for t in team_ids],
        "practitioners": len(practitioners),
        "managers": len(managers),
        "partners": len(partners),
        "partner_agencies": share_counts,
        "shares_created_now": shares_created,
        "removed_from_previous_run": removed,
    }


# --- the server -------------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def server_env(port: int) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "DATABASE_", "REDIS_"))}
    env.update(
        DJANGO_SETTINGS_MODULE="safeguarding.settings.production",
        DEBUG="false",
        SECRET_KEY=secrets.token_urlsafe(64)[:64],
        DATABASE_URL=BENCH_DB_URL,
        REDIS_URL="redis://127.0.0.1:6379/3",
        ALLOWED_HOSTS="127.0.0.1,localhost",
        SECURE_SSL_REDIRECT="false",
        SESSION_COOKIE_SECURE="false",
        CSRF_COOKIE_SECURE="false",
        API_RATE_LIMIT="100000/minute",
        LOG_LEVEL="WARNING",
        PYTHONUNBUFFERED="1",
    )
    return env


def collect_static(env: dict) -> None:
    """The production settings serve hashed static names from a manifest: build it when stale."""
    manifest = ROOT / "staticfiles" / "staticfiles.json"
    newest = max((p.stat().st_mtime for p in (ROOT / "static").rglob("*") if p.is_file()), default=0)
    if manifest.exists() and manifest.stat().st_mtime >= newest:
        return
    print("bench: collectstatic (production settings need the manifest)", flush=True)
    subprocess.run(
        [sys.executable, "manage.py", "collectstatic", "--noinput", "-v", "0"], cwd=ROOT, env=env, check=True
    )


def flush_cache() -> None:
    """Empty the benchmark's Redis database, so each run starts with cold chart caches."""
    import redis

    redis.Redis.from_url("redis://127.0.0.1:6379/3").flushdb()


class Server:
    def __init__(self, *, workers: int, workdir: Path):
        self.workers = workers
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.env = server_env(self.port)
        self.log = workdir / "gunicorn.log"
        self.proc: subprocess.Popen | None = None

    def start(self) -> None:
        collect_static(self.env)
        cmd = [
            str(VENV_BIN / "gunicorn"),
            "safeguarding.wsgi",
            "--workers",
            str(self.workers),
            "--bind",
            f"127.0.0.1:{self.port}",
            "--timeout",
            "60",
            "--graceful-timeout",
            "5",
            "--log-level",
            "warning",
            "--error-logfile",
            str(self.log),
        ]
        with open(self.log, "ab") as log:  # the security log (INFO) goes here too, not to the terminal
            self.proc = subprocess.Popen(
                cmd, cwd=ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
            )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"gunicorn exited ({self.proc.returncode}); see {self.log}:\n{self._tail()}")
            try:
                with urllib.request.urlopen(self.url + "/healthz", timeout=2) as r:  # noqa: S310 - our own http URL
                    if r.status == 200:
                        return
            except OSError:
                pass
            time.sleep(0.3)
        raise RuntimeError(f"gunicorn did not answer /healthz in 60 s; see {self.log}:\n{self._tail()}")

    def _tail(self) -> str:
        try:
            return "\n".join(self.log.read_text().splitlines()[-30:])
        except OSError:
            return ""

    def pids(self) -> list[int]:
        if self.proc is None:
            return []
        return [self.proc.pid, *_children(self.proc.pid)]

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        try:
            os.killpg(self.proc.pid, signal.SIGTERM)  # its own session: the master and its workers only
            self.proc.wait(timeout=15)
        except (ProcessLookupError, subprocess.TimeoutExpired):
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            self.proc.wait(timeout=5)


# --- CPU accounting (who used the 2 cores during a level) --------------------------------------


def _children(pid: int) -> list[int]:
    out = []
    for d in Path("/proc").iterdir():
        if d.name.isdigit():
            try:
                fields = (d / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == pid:
                out.append(int(d.name))
                out.extend(_children(int(d.name)))
    return out


def _proc_cpu() -> dict[int, tuple[str, float]]:
    tick = os.sysconf("SC_CLK_TCK")
    out = {}
    for d in Path("/proc").iterdir():
        if not d.name.isdigit():
            continue
        try:
            raw = (d / "stat").read_text()
        except OSError:
            continue
        comm = raw[raw.index("(") + 1 : raw.rindex(")")]
        fields = raw.rsplit(")", 1)[1].split()
        out[int(d.name)] = (comm, (int(fields[11]) + int(fields[12])) / tick)
    return out


def _machine_busy() -> tuple[float, float, float]:
    """(busy, total, stolen by the hypervisor) in clock ticks, all cores, since boot."""
    parts = [int(x) for x in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = parts[3] + parts[4]
    steal = parts[7] if len(parts) > 7 else 0
    return sum(parts) - idle, sum(parts), steal


def wait_for_quiet(max_wait: float, threshold: float = 0.15) -> float:
    """On a shared machine: wait (at most `max_wait` s) until the machine is under `threshold` busy
    before a level starts (the server is idle then, so it is someone else). Returns the last figure."""
    deadline = time.monotonic() + max_wait
    while True:
        b0 = _machine_busy()
        time.sleep(2)
        b1 = _machine_busy()
        busy = (b1[0] - b0[0]) / max(1, b1[1] - b0[1])
        if busy < threshold or time.monotonic() >= deadline:
            return round(busy * 100, 1)
        print(f"bench: the machine is {busy * 100:.0f} % busy with other work: waiting", flush=True)


class CpuMeter:
    """CPU seconds by group (gunicorn, PostgreSQL, the load generator, everything else).

    Sampled every second (`sample`), so a process that ends during the window (a database
    connection closed after DATABASE_CONN_MAX_AGE) still counts up to its last sample."""

    def __init__(self, server: Server):
        self.server = server

    def __exit__(self, *exc) -> None:
        return None

    def __enter__(self):
        self.t0 = time.monotonic()
        self.p0 = _proc_cpu()
        self.last = dict(self.p0)
        self.m0 = _machine_busy()
        return self

    def sample(self) -> None:
        self.last.update(_proc_cpu())

    def groups(self, locust_pid: int | None) -> dict:
        self.sample()
        m1 = _machine_busy()
        wall = time.monotonic() - self.t0
        gunicorn = set(self.server.pids())
        loc = {locust_pid, *_children(locust_pid)} if locust_pid else set()
        sums = {"gunicorn": 0.0, "postgres": 0.0, "locust": 0.0, "redis": 0.0, "other": 0.0}
        for pid, (comm, cpu) in self.last.items():
            before = self.p0.get(pid, (comm, 0.0))[1]
            used = max(0.0, cpu - before)
            if pid in gunicorn:
                sums["gunicorn"] += used
            elif pid in loc:
                sums["locust"] += used
            elif comm.startswith("postgres"):
                sums["postgres"] += used
            elif comm.startswith("redis"):
                sums["redis"] += used
            else:
                sums["other"] += used
        total = max(1, m1[1] - self.m0[1])
        busy = (m1[0] - self.m0[0]) / total
        return {
            "machine_busy_pct": round(busy * 100, 1),
            "steal_pct": round((m1[2] - self.m0[2]) / total * 100, 1),
            "cores_used": {k: round(v / wall, 2) for k, v in sums.items()},
        }


# --- locust ----------------------------------------------------------------------------------


_MANAGERS_USED = [0]  # managers signed in by earlier runs: each run starts after them (see the locustfile)


def run_level(
    *, server: Server, users: int, duration: int, warmup: int, accounts: Path, workdir: Path, think: str
) -> dict:
    results = workdir / f"level-{users}-{time.monotonic_ns()}.json"
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "DATABASE_"))},
        "LOAD_ACCOUNTS": str(accounts),
        "LOAD_RESULTS": str(results),
        "LOAD_WARMUP": str(warmup),
        "LOAD_THINK": think,
        "LOAD_MANAGER_OFFSET": str(_MANAGERS_USED[0]),
    }
    _MANAGERS_USED[0] += users  # at most every user a manager
    spawn_rate = max(1, users // 4)  # every user signed in within ~4 s (PBKDF2 makes sign-in the costly step)
    cmd = [
        str(VENV_BIN / "locust"),
        "-f",
        str(ROOT / "bench" / "locustfile.py"),
        "--headless",
        "--host",
        server.url,
        "-u",
        str(users),
        "-r",
        str(spawn_rate),
        "-t",
        f"{warmup + duration}s",
        "--stop-timeout",
        "5",
        "--only-summary",
        "--loglevel",
        "WARNING",
        "--csv",
        str(workdir / f"locust-{users}"),
    ]
    print(f"bench: load: {users} users for {warmup} s warm-up + {duration} s measured", flush=True)
    log = results.with_suffix(".log")
    with open(log, "w") as out:
        proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)
        try:
            time.sleep(warmup)
            with CpuMeter(server) as meter:  # the measured window only
                end = time.monotonic() + duration
                while time.monotonic() < end:
                    time.sleep(min(1.0, max(0.0, end - time.monotonic())))
                    meter.sample()
                usage = meter.groups(proc.pid)
            proc.wait(timeout=120)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    output = log.read_text()
    if not results.exists():
        raise RuntimeError(f"locust wrote no results (exit {proc.returncode}):\n{output[-4000:]}")
    data = json.loads(results.read_text())
    data["users"] = users
    data["spawn_rate"] = spawn_rate
    data["cpu"] = usage
    if data["total"]["failures"]:
        print(output[-3000:], flush=True)
    return data


# --- audit overhead ----------------------------------------------------------------------------


def _audit_micro(n: int) -> dict:
    """`audit_reads` alone for a family page (1 row), a caseload or dashboard page (25 rows) and an
    API list page (50 rows).

    `statement`: the INSERT alone, in a transaction rolled back: nothing kept (any deferred
    constraint is made immediate; the actor has had no database foreign key since audit 0007).
    `with_commit`: the INSERT and its commit, as in a request (no ATOMIC_REQUESTS, so the rows
    are a write transaction of their own, with its WAL flush); these rows are kept, with the route
    `bench: audit overhead`.
    """
    from django.db import connection, transaction

    from audit.context import audit_route
    from audit.services import audit_reads
    from cases.models import Family, User

    actor = User.objects.get(username=f"{PREFIX}manager-01")
    # Families from all over the id range, different ones each call, as real pages have: rows
    # with neighbouring family ids would share index pages and look cheaper than they are.
    pool = list(Family.objects.order_by("?").values_list("id", flat=True)[:5000])
    rng = random.Random(11)
    out = {}
    with audit_route("bench: audit overhead"):
        for label, size in (
            ("1 row (family page)", 1),
            ("25 rows (caseload or dashboard page)", 25),
            ("50 rows (API list page)", 50),
        ):
            for mode in ("statement", "with_commit"):
                calls = n if mode == "statement" else max(50, n // 2)
                times = []
                for i in range(calls + 10):
                    rows = [(f, f) for f in rng.sample(pool, size)]
                    if mode == "statement":
                        with transaction.atomic():
                            with connection.cursor() as cursor:
                                cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
                            started = time.perf_counter()
                            audit_reads(actor=actor, model=Family, rows=rows)
                            elapsed = time.perf_counter() - started
                            transaction.set_rollback(True)
                    else:
                        started = time.perf_counter()
                        audit_reads(actor=actor, model=Family, rows=rows)
                        elapsed = time.perf_counter() - started
                    if i >= 10:  # the first few warm the connection and statement
                        times.append(elapsed * 1000)
                out.setdefault(label, {})[mode] = {
                    "calls": calls,
                    "p50_ms": round(statistics.median(times), 3),
                    "p95_ms": round(_percentile(times, 95), 3),
                }
    return out


def _audit_requests(pairs: int, accounts: dict) -> dict:
    """Whole requests in-process (Django's test client: middleware, view, queries, template, no
    network), each page asked for twice in a row, once with its audit read rows and once without,
    the order alternating so drift cancels out.

    The family page writes its one read row with `audit_read`, a statement of its own: its figure
    (`audit_call_*`) is that call, timed where it happens inside the requests; "without" replaces
    it by a no-op. The list pages write their rows in the statement that reads the page
    (audit.reads): their figure (`added_*`) is what the log adds to that statement, the paired
    difference between the page's statement with the log and the same statement without it
    ("without" sends the ORM's own SQL), each timed where it runs inside the requests.

    `overhead_p50_ms`, the median of the paired differences of whole requests, is the cross-check
    (it includes any indirect cost, but is noisy on a shared machine)."""
    from pkgutil import resolve_name
    from unittest import mock

    from django.conf import settings
    from django.db.models.sql.constants import MULTI
    from django.test import Client
    from django_otp import DEVICE_ID_SESSION_KEY
    from django_otp.plugins.otp_totp.models import TOTPDevice

    from audit.reads import LoggedReadCompilerMixin
    from cases.models import Family, User

    settings.ALLOWED_HOSTS = ["*"]
    practitioner = User.objects.get(username=accounts["practitioners"][0]["username"])
    manager = User.objects.get(username=accounts["managers"][0]["username"])
    partner = accounts["partners"][0]
    family = Family.objects.filter(pk__in=accounts["practitioners"][0]["team_families"]).order_by("id").first()
    p_client, m_client, api_client = Client(), Client(), Client()
    p_client.force_login(practitioner)
    m_client.force_login(manager)
    session = m_client.session  # the second factor, as django_otp.login leaves it
    session[DEVICE_ID_SESSION_KEY] = TOTPDevice.objects.get(user=manager, name="loadbench").persistent_id
    session.save()
    noop = lambda **_kw: 0  # noqa: E731
    unlogged = lambda self, sql, params: (sql, params)  # noqa: E731
    in_statement = "the page's statement"
    cases = [
        ("page: family", p_client, f"/families/{family.pk}/", {}, "cases.views.family.audit_read"),
        ("page: caseload", p_client, "/", {}, in_statement),
        ("page: dashboard", m_client, "/dashboard/", {}, in_statement),
        (
            "api: visits list",
            api_client,
            "/api/v1/visits/?updated_since=" + accounts["catch_up_since"],
            {"HTTP_AUTHORIZATION": f"Token {partner['token']}"},
            in_statement,
        ),
    ]
    real_execute = LoggedReadCompilerMixin.execute_sql
    out = {}
    for name, client, url, headers, target in cases:
        calls: list[float] = []

        def timed_call(real, *args, calls=calls, **kwargs):
            started = time.perf_counter()
            try:
                return real(*args, **kwargs)
            finally:
                calls.append((time.perf_counter() - started) * 1000)

        if target == in_statement:

            def timed_page(compiler, result_type=MULTI, *args, timed_call=timed_call, **kwargs):
                if result_type != MULTI:  # the paginator's count, through the same compiler
                    return real_execute(compiler, result_type, *args, **kwargs)
                return timed_call(real_execute, compiler, result_type, *args, **kwargs)

            timing = mock.patch.object(LoggedReadCompilerMixin, "execute_sql", timed_page)
            on_patches = (timing,)
            off_patches = (timing, mock.patch.object(LoggedReadCompilerMixin, "_logged_sql", unlogged))
        else:
            real = resolve_name(target)
            on_patches = (mock.patch(target, functools.partial(timed_call, real)),)
            off_patches = (mock.patch(target, noop),)

        def timed(
            audit: bool, client=client, url=url, headers=headers, on=on_patches, off=off_patches, calls=calls
        ) -> tuple:
            calls.clear()
            started = time.perf_counter()
            with contextlib.ExitStack() as stack:
                for patch in on if audit else off:
                    stack.enter_context(patch)
                response = client.get(url, **headers)
            elapsed = (time.perf_counter() - started) * 1000
            assert response.status_code == 200, (url, response.status_code)
            return elapsed, sum(calls)

        for _ in range(3):
            timed(True), timed(False)
        with_audit, without, diffs, with_part, without_part, part_diffs = [], [], [], [], [], []
        for i in range(pairs):
            if i % 2:
                b, a = timed(False), timed(True)
            else:
                a, b = timed(True), timed(False)
            with_audit.append(a[0])
            without.append(b[0])
            diffs.append(a[0] - b[0])
            with_part.append(a[1])
            without_part.append(b[1])
            part_diffs.append(a[1] - b[1])
        result = {
            "pairs": pairs,
            "with_audit_p50_ms": round(statistics.median(with_audit), 2),
            "without_audit_p50_ms": round(statistics.median(without), 2),
            "overhead_p50_ms": round(statistics.median(diffs), 2),
        }
        if target == in_statement:
            result |= {
                "written": "in the page's statement",
                "statement_with_p50_ms": round(statistics.median(with_part), 3),
                "statement_without_p50_ms": round(statistics.median(without_part), 3),
                "added_p50_ms": round(statistics.median(part_diffs), 3),
                "added_p95_ms": round(_percentile(part_diffs, 95), 3),
            }
        else:
            result |= {
                "written": "a statement of its own",
                "audit_call_p50_ms": round(statistics.median(with_part), 3),
                "audit_call_p95_ms": round(_percentile(with_part, 95), 3),
            }
        result["cost_p50_ms"] = result.get("added_p50_ms", result.get("audit_call_p50_ms"))
        out[name] = result
    return out


def measure_audit(*, calls: int, pairs: int, accounts: dict) -> dict:
    micro = _audit_micro(calls)
    requests = _audit_requests(pairs, accounts)
    worst = max(r["cost_p50_ms"] for r in requests.values())
    return {
        "budget_ms": AUDIT_BUDGET_MS,
        "requests": requests,
        "micro": micro,
        "worst_cost_p50_ms": worst,
        "worst_overhead_p50_ms": max(r["overhead_p50_ms"] for r in requests.values()),
        "met": worst < AUDIT_BUDGET_MS,
    }


# --- main ------------------------------------------------------------------------------------


def cpu_probe_ms() -> float:
    """A fixed piece of pure-Python work, timed: on a shared or virtual machine the CPU's speed
    varies from run to run, and this says how fast it was for this one."""
    times = []
    for _ in range(7):
        started = time.perf_counter()
        sum(i * i for i in range(300_000))
        times.append((time.perf_counter() - started) * 1000)
    return round(statistics.median(times), 1)


def summarise(level: dict) -> dict:
    budgets = {}
    for name, budget in BUDGETS_MS.items():
        r = level["requests"].get(name)
        if r:
            budgets[name] = {"budget_ms": budget, "p95_ms": r["p95_ms"], "met": r["p95_ms"] < budget}
    return budgets


def write_json(data: dict) -> Path:
    DOCS.mkdir(exist_ok=True)
    path = DOCS / "performance-load.json"
    path.write_text(json.dumps(data, indent=2, sort_keys=True, default=str) + "\n")
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--families", type=int, default=int(os.environ.get("BENCH_FAMILIES", 100_000)))
    parser.add_argument(
        "--levels", default=os.environ.get("LOAD_LEVELS", "4,8,16,24,32,48"), help="simulated users per level"
    )
    parser.add_argument("--duration", type=int, default=45, help="measured seconds per level")
    parser.add_argument("--warmup", type=int, default=10, help="seconds per level before measuring (sign-ins)")
    parser.add_argument("--workers", type=int, default=3, help="gunicorn worker processes")
    parser.add_argument("--server-warmup", type=int, default=15, help="seconds of unmeasured load first")
    parser.add_argument(
        "--quiet-wait", type=int, default=15, help="seconds to wait, before each level, for other work to stop"
    )
    parser.add_argument("--think", default="0.5,1.5", help="seconds a user waits between actions: min,max")
    parser.add_argument("--shares", type=int, default=2000, help="current shares per partner agency")
    parser.add_argument("--audit-calls", type=int, default=300, help="calls of audit_reads per size, alone")
    parser.add_argument("--audit-pairs", type=int, default=60, help="requests with and without audit rows, per page")
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory (credentials, CSVs)")
    args = parser.parse_args()
    levels = [int(x) for x in args.levels.split(",") if x.strip()]
    started = time.monotonic()

    setup_django()
    ensure_dataset(args.families)
    from escalation.models import CheckRun
    from escalation.services.checks import run_checks_in_process

    if not CheckRun.objects.exists():
        print("bench: running the checks once so the dashboards have prompts", flush=True)
        run_checks_in_process()

    probe = cpu_probe_ms()
    print(f"bench: CPU probe {probe} ms (a fixed pure-Python loop; lower is faster)", flush=True)
    workdir = Path(tempfile.mkdtemp(prefix="loadbench-"))
    os.chmod(workdir, 0o700)
    accounts_path = workdir / "accounts.json"
    server = Server(workers=args.workers, workdir=workdir)
    # Ctrl-C or a kill still stops gunicorn (the finally below).
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    try:
        setup = prepare_accounts(
            max_users=max(levels),
            manager_accounts=sum(levels) + (max(levels) if args.server_warmup else 0),
            shares_per_agency=args.shares,
            out=accounts_path,
        )
        accounts = json.loads(accounts_path.read_text())
        print(
            f"bench: accounts: {setup['practitioners']} practitioners, {setup['managers']} managers, "
            f"{setup['partners']} partners; shares {setup['partner_agencies']}",
            flush=True,
        )
        flush_cache()
        server.start()
        print(f"bench: gunicorn ({args.workers} workers) on {server.url}", flush=True)
        if args.server_warmup:
            # Every worker's first requests (imports, templates, connections, caches) are not the steady state.
            print(
                f"bench: warming the server up ({max(levels)} users, {args.server_warmup} s, not measured)", flush=True
            )
            run_level(
                server=server,
                users=max(levels),
                duration=1,
                warmup=args.server_warmup,
                accounts=accounts_path,
                workdir=workdir,
                think=args.think,
            )
        results = []
        for users in levels:
            idle_busy = wait_for_quiet(args.quiet_wait) if args.quiet_wait else None
            level_probe = cpu_probe_ms()
            level = run_level(
                server=server,
                users=users,
                duration=args.duration,
                warmup=args.warmup,
                accounts=accounts_path,
                workdir=workdir,
                think=args.think,
            )
            level["budgets"] = summarise(level)
            level["machine_busy_before_pct"] = idle_busy
            level["cpu_probe_ms"] = level_probe
            results.append(level)
            t = level["total"]
            print(
                f"bench:   {users} users: {t['rps']} req/s, p50 {t['p50_ms']} ms, p95 {t['p95_ms']} ms, "
                f"{t['failures']} failures ({level['warmup']['failures']} in the warm-up); CPU probe "
                f"{level_probe} ms; machine "
                f"{level['cpu']['machine_busy_pct']} % busy, cores used {level['cpu']['cores_used']}",
                flush=True,
            )
            for name, r in sorted(level["requests"].items()):
                print(
                    f"bench:     {name:<32} {r['count']:>6} {r['rps']:>7} req/s  p50 {r['p50_ms']:>6}  "
                    f"p95 {r['p95_ms']:>6}  fail {r['failures']}",
                    flush=True,
                )
    finally:
        server.stop()
        if not args.keep:
            shutil.rmtree(workdir, ignore_errors=True)
    print("bench: audit read rows: timing with and without them", flush=True)
    audit = measure_audit(calls=args.audit_calls, pairs=args.audit_pairs, accounts=accounts)
    for name, r in audit["requests"].items():
        print(
            f"bench:   {name:<20} read rows written {r['written']}: add {r['cost_p50_ms']} ms (p50); "
            f"whole request with {r['with_audit_p50_ms']} ms, without {r['without_audit_p50_ms']} ms, "
            f"median of paired differences {r['overhead_p50_ms']} ms",
            flush=True,
        )
    # Leave the data set as it was: the visits and appointments this run logged go again.
    from cases.models import User

    writers = User.objects.filter(
        username__in=[a["username"] for a in accounts["practitioners"] + accounts["partners"]]
    ).values_list("pk", flat=True)
    removed = _remove_previous_writes(list(writers))
    print(f"bench: removed what the load test logged: {removed}", flush=True)
    sizes = dataset_sizes()
    from audit.models import AuditEvent

    sizes["audit_events"] = AuditEvent.objects.count()
    data = {
        "machine": {**machine(), "cpu_probe_ms": probe},
        "dataset": sizes,
        "setup": setup,
        "server": {
            "gunicorn_workers": args.workers,
            "worker_class": "sync",
            "settings": "safeguarding.settings.production",
            "cache": "Redis, shared by the workers",
        },
        "load": {
            "tool": "locust (headless, FastHttpUser)",
            "warmup_seconds": args.warmup,
            "measured_seconds": args.duration,
            "think_seconds": args.think,
            "mix": "practitioners 6 : managers 2 : partner systems 2",
        },
        "levels": results,
        "budgets_ms": BUDGETS_MS,
        "audit": audit,
        "run_seconds": round(time.monotonic() - started, 1),
        "measured_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
    }
    path = write_json(data)
    print(f"bench: wrote {path.relative_to(ROOT)} in {data['run_seconds']} s", flush=True)
    # docs/performance.md carries this run's load section too (it is rendered from both files).
    if (DOCS / "performance.json").exists():
        from bench.report import render

        render()
        print("bench: wrote docs/performance.md", flush=True)
    if args.keep:
        print(f"bench: kept {workdir}", flush=True)


if __name__ == "__main__":
    main()
