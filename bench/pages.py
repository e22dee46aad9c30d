"""Benchmark of pages and API lists on the 100,000-family data set: server time per request
(Django's test client in-process, so no network), median and 95th percentile, and queries.

    python -m bench.pages [--families 100000] [--requests 60]
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

from bench.common import dataset_sizes, ensure_dataset, machine, setup_django, write_results


def _percentile(values: list[float], pct: float) -> float:
    ordered = sorted(values)
    k = max(0, min(len(ordered) - 1, round(pct / 100 * (len(ordered) - 1))))
    return ordered[k]


def _second_factor(client, user) -> None:
    """Mark the session as past the second factor, as a sign-in with a TOTP code would."""
    from django_otp import DEVICE_ID_SESSION_KEY
    from django_otp.plugins.otp_totp.models import TOTPDevice

    device = TOTPDevice.objects.filter(user=user, confirmed=True).first() or TOTPDevice.objects.create(
        user=user, name="bench", confirmed=True
    )
    session = client.session
    session[DEVICE_ID_SESSION_KEY] = device.persistent_id
    session.save()


def _measure(client, url: str, n: int, before=None, **headers) -> dict:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    client.get(url, **headers)  # warm caches and connections
    times = []
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(url, **headers)
    assert response.status_code == 200, (url, response.status_code)
    queries = len(ctx.captured_queries)
    for _ in range(n):
        if before:
            before()
        started = time.perf_counter()
        response = client.get(url, **headers)
        times.append((time.perf_counter() - started) * 1000)
        assert response.status_code == 200
    return {
        "url": url,
        "p50_ms": round(statistics.median(times), 1),
        "p95_ms": round(_percentile(times, 95), 1),
        "queries": queries,
        "requests": n,
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--families", type=int, default=int(os.environ.get("BENCH_FAMILIES", 100_000)))
    parser.add_argument("--requests", type=int, default=60)
    args = parser.parse_args()
    setup_django()
    ensure_dataset(args.families)
    from django.conf import settings
    from django.db.models import Count
    from django.test import Client

    from cases.models import Family, Role, User
    from escalation.models import CheckRun
    from escalation.services.checks import run_checks_in_process

    settings.ALLOWED_HOSTS = ["*"]
    if not CheckRun.objects.exists():
        print("bench: running the checks once so the dashboard has prompts", flush=True)
        run_checks_in_process()

    # The busiest team, its manager and the practitioner who leads most families.
    team_id = (
        Family.objects.values("team_id").annotate(n=Count("id")).order_by("-n").values_list("team_id", flat=True)[0]
    )
    manager = User.objects.filter(team_id=team_id, role=Role.MANAGER).order_by("id").first()
    lead = (
        User.objects.filter(team_id=team_id, role=Role.PRACTITIONER)
        .annotate(n=Count("lead_for"))
        .order_by("-n")
        .first()
    )
    family = Family.objects.filter(team_id=team_id).annotate(n=Count("visits")).order_by("-n").first()
    results = {}
    manager_client, lead_client = Client(), Client()
    manager_client.force_login(manager)
    _second_factor(manager_client, manager)  # managers sign in with an authenticator code too
    lead_client.force_login(lead)
    n = args.requests
    results["dashboard"] = _measure(manager_client, "/dashboard/", n)
    from django.core.cache import cache

    results["dashboard_cold_cache"] = _measure(manager_client, "/dashboard/", n // 2, before=cache.clear)
    results["dashboard_filtered"] = _measure(manager_client, "/dashboard/?severity=high&status=active", n)
    results["caseload"] = _measure(lead_client, "/", n)
    results["family_page"] = _measure(lead_client, f"/families/{family.pk}/", n)
    results["api_families_list"] = _measure(lead_client, "/api/v1/families/", n, HTTP_ACCEPT="application/json")
    results["api_visits_list"] = _measure(lead_client, "/api/v1/visits/", n, HTTP_ACCEPT="application/json")
    for name, r in results.items():
        print(f"bench: {name:<22} p50 {r['p50_ms']:>7} ms  p95 {r['p95_ms']:>7} ms  {r['queries']} queries", flush=True)
    team_families = Family.objects.filter(team_id=team_id).count()
    write_results(
        "pages",
        {
            "machine": machine(),
            "dataset": dataset_sizes(),
            "team_families": team_families,
            "family_visits": family.n,
            "results": results,
            "budget_ms": 150,
        },
    )
    from bench.report import render

    render()


if __name__ == "__main__":
    main()
