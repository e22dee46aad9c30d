"""The limit, side by side (issue 7): the project against a hand-written minimal equivalent, timed
in the same run on the same data.

- The checks: the `was_not_brought` rule run by the project (chunks, evidence, flags kept or
  resolved, in a steady state where nothing changes) against the rule as ONE raw SQL query that
  only finds the children and their severity.
- An API list page: `GET /api/v1/visits/` (first page, 50 rows, with its audit row) against a bare
  Django view returning the same rows as JSON (token looked up by hand, `.values()`, no DRF, no
  audit), both through the same middleware in-process.
- EXPLAIN summaries of the heaviest queries, to show which indexes are used.

    python -m bench.limits [--repeat 5]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import time

from bench.common import dataset_sizes, ensure_dataset, machine, setup_django, write_results

WNB_SQL = """
WITH per_child AS (
    SELECT a.family_id, a.member_id,
           count(*) FILTER (WHERE a.scheduled_for >= %(short)s) AS n_short,
           count(*) AS n_long,
           count(DISTINCT a.agency_id) FILTER (WHERE a.scheduled_for >= %(short)s) AS agencies_short,
           count(*) FILTER (WHERE a.scheduled_for >= %(short)s AND a.critical) AS critical_short
    FROM visits_appointment a
    JOIN cases_family f ON f.id = a.family_id AND f.status = 'open'
    WHERE a.for_child AND a.status = 'was_not_brought'
      AND a.scheduled_for >= %(long)s AND a.scheduled_for <= %(now)s
    GROUP BY a.family_id, a.member_id
)
SELECT family_id, member_id,
       CASE WHEN n_long >= %(high_count)s OR agencies_short >= %(high_agencies)s OR critical_short >= 1
            THEN 'high' ELSE 'medium' END AS severity
FROM per_child
WHERE n_short >= %(min_count)s OR critical_short >= 1
"""


def _percentile(values: list[float], pct: float) -> float:
    ordered = sorted(values)
    return ordered[max(0, min(len(ordered) - 1, round(pct / 100 * (len(ordered) - 1))))]


def _stats(times: list[float]) -> dict:
    return {
        "median_ms": round(statistics.median(times), 1),
        "p95_ms": round(_percentile(times, 95), 1),
        "runs": len(times),
    }


def checks_limit(repeat: int) -> dict:
    from django.db import connection
    from django.utils import timezone

    from escalation.models import CheckSettings, Flag
    from escalation.services.checks import run_checks_in_process

    cfg = CheckSettings.load()
    run_checks_in_process(rule_codes=["was_not_brought"])  # steady state: the next runs change nothing
    project, raw, raw_parallel = [], [], []
    rows = 0
    for attempt in range(repeat):
        started = time.perf_counter()
        run_checks_in_process(rule_codes=["was_not_brought"])
        project.append((time.perf_counter() - started) * 1000)

        now = timezone.now()
        params = {
            "now": now,
            "short": now - timezone.timedelta(days=cfg.wnb_window_days),
            "long": now - timezone.timedelta(days=max(cfg.wnb_high_window_days, cfg.wnb_window_days)),
            "min_count": cfg.wnb_min_count,
            "high_count": cfg.wnb_high_count,
            "high_agencies": cfg.wnb_high_agencies,
        }
        # The raw query twice: with the connection's settings (no parallel workers, as the
        # project's checks run) and with two parallel workers allowed, first one then the other
        # in turn (neither always finds the cache warmed by the other); the faster is the limit.
        ways = [(0, raw), (2, raw_parallel)]
        with connection.cursor() as cursor:
            try:
                for workers, times in ways if attempt % 2 == 0 else ways[::-1]:
                    cursor.execute(f"SET max_parallel_workers_per_gather = {workers}")
                    started = time.perf_counter()
                    cursor.execute(WNB_SQL, params)
                    rows = len(cursor.fetchall())
                    times.append((time.perf_counter() - started) * 1000)
            finally:
                cursor.execute("RESET max_parallel_workers_per_gather")
    open_flags = Flag.objects.filter(rule="was_not_brought", status="open").count()
    breakdown = _checks_breakdown(repeat)
    p, serial, parallel = _stats(project), _stats(raw), _stats(raw_parallel)
    r = min(serial, parallel, key=lambda s: s["median_ms"])
    return {
        "rule": "was_not_brought",
        "project": p,
        "raw_sql": r,
        "raw_sql_serial": serial,
        "raw_sql_parallel": parallel,
        "ratio": round(p["median_ms"] / r["median_ms"], 2),
        "raw_rows": rows,
        "project_open_flags": open_flags,
        "project_breakdown": breakdown,
        "target_ratio": 1.5,
    }


# Where a steady run's time goes, by what each statement reads or writes.
_STATEMENT_KINDS = (
    (
        "finding the children (the rule's grouped query, with the signature's inputs)",
        re.compile(r'FROM "visits_appointment"'),
    ),
    ("reading the open flags", re.compile(r'^SELECT .* FROM "escalation_flag"', re.S)),
    ("writing the flags (last_seen of each kept flag)", re.compile(r'^(UPDATE|INSERT INTO) "escalation_flag"')),
)


def _checks_breakdown(repeat: int) -> dict:
    """The project's steady run again, each statement timed (sending it and the server's work, as
    `cursor.execute`) and put under what it does; the rest is Python: building the chunks'
    queries, turning the rows into Python and into findings, comparing signatures, and the chunks'
    transactions (BEGIN and COMMIT are not statements Django's wrappers see)."""
    from django.db import connection

    from escalation.services.checks import run_checks_in_process

    runs = []
    for _ in range(max(3, repeat // 2)):
        spent: dict[str, float] = {}
        counts: dict[str, int] = {}

        def timed(execute, sql, params, many, context, spent=spent, counts=counts):
            kind = next((name for name, pattern in _STATEMENT_KINDS if pattern.search(sql)), "other statements")
            started = time.perf_counter()
            try:
                return execute(sql, params, many, context)
            finally:
                spent[kind] = spent.get(kind, 0.0) + (time.perf_counter() - started) * 1000
                counts[kind] = counts.get(kind, 0) + 1

        started = time.perf_counter()
        with connection.execute_wrapper(timed):
            run_checks_in_process(rule_codes=["was_not_brought"])
        total = (time.perf_counter() - started) * 1000
        spent["Python (queries built, rows read into Python and into findings, signatures compared) and commits"] = (
            total - sum(spent.values())
        )
        runs.append((total, spent, counts))
    total, spent, counts = sorted(runs, key=lambda r: r[0])[len(runs) // 2]  # the median run
    return {
        "total_ms": round(total, 1),
        "parts": {name: {"ms": round(ms, 1), "statements": counts.get(name, 0)} for name, ms in spent.items()},
    }


def bare_visits(request):
    """The minimal equivalent of GET /api/v1/visits/ (first page): the same count, rows and fields as
    JSON, with none of the project's layers (DRF, selectors, serializers, audit)."""
    from django.db import connection
    from django.http import JsonResponse
    from knox.crypto import hash_token
    from knox.settings import CONSTANTS

    header = request.headers.get("Authorization", "")
    key = header.removeprefix("Token ").strip()
    # What django-rest-knox checks: the key's first characters find the row, its hash must match,
    # it has not expired, and its owner is active.
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT u.id, u.team_id FROM knox_authtoken t JOIN cases_user u ON u.id = t.user_id "
            "WHERE t.token_key = %s AND t.digest = %s AND (t.expiry IS NULL OR t.expiry > now()) AND u.is_active",
            [key[: CONSTANTS.TOKEN_KEY_LENGTH], hash_token(key)],
        )
        row = cursor.fetchone()
    if row is None:
        return JsonResponse({"detail": "Invalid token."}, status=401)
    from visits.models import Visit

    # The same response as the API's first page: the total as well as the rows.
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM visits_visit v JOIN cases_family f ON f.id = v.family_id WHERE f.team_id = %s",
            [row[1]],
        )
        count = cursor.fetchone()[0]
    rows = list(
        Visit.objects.filter(family__team_id=row[1])
        .order_by("id")
        .values(
            "id",
            "family_id",
            "practitioner_id",
            "agency_id",
            "planned",
            "purpose",
            "expected_outcome",
            "purpose_shared_with_family",
            "scheduled_for",
            "status",
            "outcome",
            "next_steps",
            "voice_of_child",
            "home_conditions",
            "updated_at",
        )[:50]
    )
    return JsonResponse({"count": count, "results": rows}, json_dumps_params={"default": str})


urlpatterns = []  # filled in api_limit(): the project's URLs plus the bare view


def api_limit(repeat: int) -> dict:
    from django.db.models import Count
    from django.test import Client, override_settings
    from django.urls import include, path

    from accounts.services import token_issue
    from cases.models import Family, Role, User

    global urlpatterns
    urlpatterns = [path("bench/bare/visits/", bare_visits), path("", include("safeguarding.urls"))]
    team_id = (
        Family.objects.values("team_id").annotate(n=Count("id")).order_by("-n").values_list("team_id", flat=True)[0]
    )
    user = User.objects.filter(team_id=team_id, role=Role.PRACTITIONER).order_by("id").first()
    auth = {"HTTP_AUTHORIZATION": f"Token {token_issue(user=user).key}", "HTTP_ACCEPT": "application/json"}
    client = Client()
    results = {}
    with override_settings(ROOT_URLCONF=__name__, ALLOWED_HOSTS=["*"]):
        api = client.get("/api/v1/visits/", **auth).json()
        bare = client.get("/bench/bare/visits/", **auth).json()
        assert [v["id"] for v in api["results"]] == [v["id"] for v in bare["results"]], "different rows"
        # In turns, one then the other, first one way round then the other, so that the machine's
        # drift (this shared machine's speed changes from minute to minute) falls on both alike.
        ways = [("project", "/api/v1/visits/"), ("bare_view", "/bench/bare/visits/")]
        times: dict[str, list[float]] = {name: [] for name, _url in ways}
        for attempt in range(repeat):
            for name, url in ways if attempt % 2 == 0 else ways[::-1]:
                started = time.perf_counter()
                response = client.get(url, **auth)
                times[name].append((time.perf_counter() - started) * 1000)
                assert response.status_code == 200
        for name, values in times.items():
            results[name] = _stats(values)
        # Deep in a sync: the 1,000th cursor page (of 10) costs what the first does. Walking there
        # takes 1,000 requests in a few seconds, past the per-token rate limit: raised for the walk.
        from django.conf import settings

        rates = {**settings.REST_FRAMEWORK.get("DEFAULT_THROTTLE_RATES", {}), "user": "100000/min"}
        with override_settings(REST_FRAMEWORK={**settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": rates}):
            first_url = "/api/v1/visits/?page_size=10"
            shallow = []
            for _ in range(repeat):
                started = time.perf_counter()
                response = client.get(first_url, **auth)
                shallow.append((time.perf_counter() - started) * 1000)
            page, pages, deep = response.json(), 1, []
            while pages < 1000 and page.get("next"):
                response = client.get(page["next"].replace("http://testserver", ""), **auth)
                assert response.status_code == 200, response.status_code
                page, pages = response.json(), pages + 1
            if pages == 1000:
                url = response.request["PATH_INFO"] + "?" + response.request["QUERY_STRING"]
                for _ in range(repeat):
                    started = time.perf_counter()
                    assert client.get(url, **auth).status_code == 200
                    deep.append((time.perf_counter() - started) * 1000)
                results["cursor_page_1"] = _stats(shallow)
                results["cursor_page_1000"] = _stats(deep)
            else:
                print(f"bench.limits: only {pages} pages of 10 for this team; no page 1,000", flush=True)
    p, b = results["project"], results["bare_view"]
    return {
        "endpoint": "/api/v1/visits/ (first page of 50, practitioner token, busiest team)",
        **results,
        "ratio": round(p["median_ms"] / b["median_ms"], 2),
        "target_ratio": 2.0,
    }


EXPLAINS = {
    "api visits page (team)": (
        "SELECT v.* FROM visits_visit v JOIN cases_family f ON f.id = v.family_id "
        "WHERE f.team_id = %(team)s ORDER BY v.id LIMIT 51"
    ),
    "api visits cursor page (team, deep)": (
        "SELECT v.* FROM visits_visit v JOIN cases_family f ON f.id = v.family_id "
        "WHERE f.team_id = %(team)s AND v.id > %(after)s ORDER BY v.id LIMIT 51"
    ),
    "partner sync (updated_since)": (
        "SELECT v.* FROM visits_visit v WHERE v.updated_at >= now() - interval '1 day' ORDER BY v.id LIMIT 51"
    ),
    "family access log": (
        "SELECT * FROM audit_auditevent WHERE family_id = %(family)s ORDER BY at DESC, id DESC LIMIT 50"
    ),
    "was_not_brought (raw rule)": WNB_SQL,
}


def _page_queries(team: int) -> list[tuple[str, str, None]]:
    """The main query of three pages, as the ORM sends it (captured, values inlined): the
    caseload's families with their visits and flag counts, the dashboard's list of a team's
    prompts with counts and ages, and a practitioner's API families page."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from cases import selectors as cases_selectors
    from cases.models import Role, User
    from escalation import selectors as escalation_selectors

    practitioner = User.objects.filter(team_id=team, role=Role.PRACTITIONER).order_by("id").first()
    manager = User.objects.filter(team_id=team, role=Role.MANAGER).order_by("id").first()

    def captured(run) -> str:
        with CaptureQueriesContext(connection) as ctx:
            run()
        return next(q["sql"] for q in ctx.captured_queries if q["sql"].lstrip().upper().startswith("SELECT"))

    return [
        (
            "caseload page (team, by flags)",
            captured(lambda: list(cases_selectors.caseload(user=practitioner)[:25])),
            None,
        ),
        (
            "dashboard list, counts and ages (team manager)",
            captured(
                lambda: escalation_selectors.dashboard_summary(
                    user=manager, filters=escalation_selectors.DashboardFilters(), with_ages=True
                )
            ),
            None,
        ),
        (
            "api families page (team)",
            captured(lambda: list(cases_selectors.family_list_brief(user=practitioner).order_by("id")[:51])),
            None,
        ),
    ]


def explains() -> dict:
    from django.db import connection
    from django.db.models import Count
    from django.utils import timezone

    from cases.models import Family
    from escalation.models import CheckSettings

    cfg = CheckSettings.load()
    team = Family.objects.values("team_id").annotate(n=Count("id")).order_by("-n").values_list("team_id", flat=True)[0]
    now = timezone.now()
    params = {
        "team": team,
        "after": 1_000_000,
        "family": Family.objects.filter(team_id=team).values_list("id", flat=True).first(),
        "now": now,
        "short": now - timezone.timedelta(days=cfg.wnb_window_days),
        "long": now - timezone.timedelta(days=max(cfg.wnb_high_window_days, cfg.wnb_window_days)),
        "min_count": cfg.wnb_min_count,
        "high_count": cfg.wnb_high_count,
        "high_agencies": cfg.wnb_high_agencies,
    }
    out = {}
    queries = [(name, sql, params) for name, sql in EXPLAINS.items()] + _page_queries(team)
    with connection.cursor() as cursor:
        for name, sql, query_params in queries:
            cursor.execute("EXPLAIN (ANALYZE, FORMAT JSON) " + sql, query_params)
            plan = cursor.fetchone()[0]
            plan = plan if isinstance(plan, list) else json.loads(plan)
            top = plan[0]
            nodes, indexes = [], set()
            stack = [top["Plan"]]
            while stack:
                node = stack.pop(0)
                label = node["Node Type"]
                if node.get("Index Name"):
                    indexes.add(node["Index Name"])
                    label += f" using {node['Index Name']}"
                if node.get("Relation Name"):
                    label += f" on {node['Relation Name']}"
                nodes.append(label)
                stack[:0] = node.get("Plans", [])
            out[name] = {
                "execution_ms": round(top["Execution Time"], 2),
                "indexes": sorted(indexes),
                "plan": nodes[:8],
            }
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--families", type=int, default=int(os.environ.get("BENCH_FAMILIES", 100_000)))
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    setup_django()
    ensure_dataset(args.families)
    checks = checks_limit(args.repeat)
    print(
        f"bench: was_not_brought project {checks['project']['median_ms']} ms, raw SQL "
        f"{checks['raw_sql']['median_ms']} ms, ratio {checks['ratio']}",
        flush=True,
    )
    api = api_limit(args.repeat * 6)
    print(
        f"bench: visits API {api['project']['median_ms']} ms, bare view {api['bare_view']['median_ms']} ms, "
        f"ratio {api['ratio']}",
        flush=True,
    )
    plans = explains()
    write_results(
        "limits",
        {"machine": machine(), "dataset": dataset_sizes(), "checks": checks, "api": api, "explain": plans},
    )
    from bench.report import render

    render()


if __name__ == "__main__":
    main()
