"""The load test's section of docs/performance.md, from docs/performance-load.json (bench/load.py)."""

from __future__ import annotations

import json

from bench.common import DOCS

ORDER = (
    "page: caseload",
    "page: caseload (filtered)",
    "page: family",
    "page: visit form",
    "form: log visit",
    "page: dashboard",
    "page: dashboard (filtered)",
    "api: families list",
    "api: visits list",
    "api: appointments list",
    "api: appointment create",
)
DISTURBED_CORES = 0.2  # other processes using more than this during a level make its figures suspect


def _ordered(names) -> list[str]:
    known = [n for n in ORDER if n in names]
    return known + sorted(n for n in names if n not in ORDER)


def _met(ok: bool) -> str:
    return "met" if ok else "**missed**"


def _level_ok(level: dict) -> bool:
    return level["total"]["failures"] == 0 and all(b["met"] for b in level.get("budgets", {}).values())


def load_section(data: dict) -> list[str]:
    server, load, setup, sizes = data["server"], data["load"], data["setup"], data["dataset"]
    budgets = data.get("budgets_ms", {})
    levels = data.get("levels", [])
    teams = ", ".join(f"{t['name']} ({t['families']:,} families)" for t in setup.get("teams", []))
    shares = ", ".join(f"{name} {n:,}" for name, n in setup.get("partner_agencies", {}).items())
    lines = [
        "## Web and API under load (issue 7)",
        "",
        f"gunicorn with the production settings ({server['gunicorn_workers']} {server['worker_class']} workers; "
        f"cache: {server['cache']}) on loopback, driven by {load['tool']} on the same machine. "
        f"Simulated people, by weight: {load['mix']}. Practitioners sign in and open their caseload, "
        "family pages of their team and now and then log a visit through the form; managers sign in with "
        "a password and an authenticator code and open the team's dashboard, plain and filtered; partner "
        "systems page through `?updated_since=` syncs of families, visits and appointments (following `next`, "
        "up to 4 pages; a catch-up sync from before every record 30 % of the time, else since their last sync) "
        f"and now and then record an appointment. Each person waits {load['think_seconds'].replace(',', '–')} s "
        f"between actions. Per level: {load['warmup_seconds']} s of warm-up (sign-ins) not counted, then "
        f"{load['measured_seconds']} s measured. Times are what the client saw (queueing in gunicorn included).",
        "",
        (
            f"CPU probe (a fixed pure-Python loop, to compare runs on a shared machine): "
            f"{data['machine']['cpu_probe_ms']} ms. "
            if data.get("machine", {}).get("cpu_probe_ms")
            else ""
        )
        + f"Data set: {sizes['families']:,} families, {sizes['visits']:,} visits, {sizes['appointments']:,} "
        f"appointments. Teams used: {teams}. Current shares per partner agency: {shares}.",
        "",
    ]
    for level in levels:
        t, cpu = level["total"], level["cpu"]
        used = cpu["cores_used"]
        disturbed = used.get("other", 0) > DISTURBED_CORES
        lines += [
            f"### {level['users']} simulated people: {t['rps']} requests/s, p50 {t['p50_ms']} ms, "
            f"p95 {t['p95_ms']} ms, {t['failures']} failed",
            "",
            (f"CPU probe just before: {level['cpu_probe_ms']} ms. " if level.get("cpu_probe_ms") else "")
            + f"Machine {cpu['machine_busy_pct']} % busy; cores used: gunicorn {used['gunicorn']}, "
            f"PostgreSQL {used['postgres']}, load generator {used['locust']}, other processes {used['other']}"
            + (f"; {cpu['steal_pct']} % stolen by the hypervisor." if cpu.get("steal_pct", 0) >= 1 else ".")
            + (" **Other processes were busy during this level: its figures are pessimistic.**" if disturbed else ""),
            "",
            "| request | requests | req/s | p50 ms | p95 ms | failed | budget p95 ms |",
            "| --- | ---: | ---: | ---: | ---: | ---: | ---: |",
        ]
        for name in _ordered(level["requests"]):
            r = level["requests"][name]
            budget = budgets.get(name)
            mark = f"{budget} ({_met(r['p95_ms'] < budget)})" if budget else ""
            lines.append(
                f"| {name} | {r['count']:,} | {r['rps']} | {r['p50_ms']} | {r['p95_ms']} | {r['failures']} | {mark} |"
            )
        lines.append("")

    if levels and budgets:
        lines += [
            "### Budgets (p95, no failed requests)",
            "",
            "| request | budget ms | " + " | ".join(f"{lv['users']} people" for lv in levels) + " |",
            "| --- | ---: | " + " | ".join("---:" for _ in levels) + " |",
        ]
        for name in _ordered(budgets):
            cells = []
            for lv in levels:
                r = lv["requests"].get(name)
                cells.append(f"{r['p95_ms']} {_met(r['p95_ms'] < budgets[name])}" if r else "–")
            lines.append(f"| {name} | {budgets[name]} | " + " | ".join(cells) + " |")
        lines.append("| failed requests | 0 | " + " | ".join(str(lv["total"]["failures"]) for lv in levels) + " |")
        held = [lv for lv in levels if _level_ok(lv)]
        lines.append("")
        if held:
            best = max(held, key=lambda lv: lv["total"]["rps"])
            lines.append(
                f"Every budget is met, with no failed request, up to {best['users']} simulated people "
                f"({best['total']['rps']} requests/s)."
            )
        else:
            lines.append("No level met every budget.")
        missed = sorted(
            {name for lv in levels for name, b in lv.get("budgets", {}).items() if not b["met"]},
            key=lambda n: _ordered(budgets).index(n) if n in budgets else 99,
        )
        if missed:
            lines.append(f"Missed at some level: {', '.join(missed)}.")
        lines.append("")

    variants = levels[-1].get("variants") if levels else None
    if variants:
        lv = levels[-1]
        lines += [
            f"Partner sync pages by kind, at {lv['users']} people:",
            "",
            "| request | requests | p50 ms | p95 ms |",
            "| --- | ---: | ---: | ---: |",
            *(f"| {name} | {r['count']:,} | {r['p50_ms']} | {r['p95_ms']} |" for name, r in variants.items()),
            "",
        ]

    audit = data.get("audit")
    if audit:
        lines += [
            f"### Audit log of reads (budget: under {audit['budget_ms']} ms a request)",
            "",
            "Whole requests in-process (Django test client, no network) on the full data set, each page asked "
            "for twice in a row, with its read rows and without them, the order alternating so drift cancels "
            "out. The list pages write their read rows in the statement that reads the page (a data-modifying "
            "CTE, `audit/reads.py`): what the log adds is the paired difference between that statement with the "
            "log and the same statement without it (the ORM's own SQL), each timed where it runs inside the "
            "requests. The family page writes its one row with a statement of its own (`audit_read`): what it "
            "adds is that call, timed inside the requests. Cross-check: the median of the paired differences "
            "of whole requests (noisier: a difference of two whole requests).",
            "",
            "| request | rows written | written by | adds p50 ms | adds p95 ms | page statement with / without "
            "p50 ms | request with / without p50 ms | paired difference of requests p50 ms | budget |",
            "| --- | ---: | --- | ---: | ---: | ---: | ---: | ---: | --- |",
        ]
        rows_written = {"page: family": 1, "page: caseload": 25, "page: dashboard": 25, "api: visits list": 50}
        for name, r in audit["requests"].items():
            if "added_p50_ms" in r:  # written by the page's own statement
                written, p50, p95 = "the page's statement", r["added_p50_ms"], r["added_p95_ms"]
                statement = f"{r['statement_with_p50_ms']} / {r['statement_without_p50_ms']}"
            else:  # a statement of its own (and every run before audit/reads.py)
                written, p50, p95 = "its own statement", r["audit_call_p50_ms"], r["audit_call_p95_ms"]
                statement = "–"
            lines.append(
                f"| {name} | {rows_written.get(name, '')} | {written} | {p50} | {p95} | {statement} | "
                f"{r['with_audit_p50_ms']} / {r['without_audit_p50_ms']} | {r['overhead_p50_ms']} | "
                f"{_met(p50 < audit['budget_ms'])} |"
            )
        lines += [
            "",
            "`audit_reads` alone: the INSERT in a transaction rolled back (`statement`), and the "
            "INSERT with its commit, as a request does it (`with commit`):",
            "",
            "| rows | statement p50 ms | statement p95 ms | with commit p50 ms | with commit p95 ms |",
            "| --- | ---: | ---: | ---: | ---: |",
        ]
        for label, r in audit["micro"].items():
            s, c = r["statement"], r["with_commit"]
            lines.append(f"| {label} | {s['p50_ms']} | {s['p95_ms']} | {c['p50_ms']} | {c['p95_ms']} |")
        worst = audit.get("worst_cost_p50_ms", audit.get("worst_audit_call_p50_ms"))
        lines += ["", f"Audit budget: {_met(audit['met'])} (the most it adds to a request, median: {worst} ms).", ""]
    return lines


if __name__ == "__main__":
    print("\n".join(load_section(json.loads((DOCS / "performance-load.json").read_text()))))
