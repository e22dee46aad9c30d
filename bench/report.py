"""Render docs/performance.md from docs/performance.json (every benchmark section present)."""

from __future__ import annotations

import json

from bench.common import DOCS


def _checks(c: dict) -> list[str]:
    d = c["dataset"]
    per = c["queries_per_chunk"]
    celery = c.get("celery_full_run_seconds") or {}
    lines = [
        "## Checks run (issue 3)",
        "",
        f"Data set: {d['families']:,} families, {d['members']:,} members, {d['visits']:,} visits, "
        f"{d['appointments']:,} appointments, {d['referrals']:,} referrals "
        f"({d['visits'] + d['appointments']:,} visits and appointments). Chunk size {c['chunk_size']:,}.",
        "",
        "| figure | seconds | budget |",
        "| --- | ---: | ---: |",
        f"| full run, first (opens every flag and prompt) | {c['full_run_first_seconds']} | 60 |",
        f"| full run, steady state (nothing changed), in one process | {c['full_run_steady_seconds']} | 60 |",
    ]
    for key, seconds in sorted(celery.items()):
        n = key.split("_")[0]
        lines.append(f"| full run, steady state, on {n} Celery worker process(es) on Redis | {seconds} | 60 |")
    lines += [
        f"| incremental run after changing {c['incremental_changed_families']:,} families (1 %) "
        f"| {c['incremental_seconds']} | 5 |",
        "",
        "Queries per chunk (must not grow with the chunk's contents):",
        "",
        "| chunk | families | appointments in it | queries |",
        "| --- | ---: | ---: | ---: |",
        *(
            f"| {label} | {per[key]['families']} | {per[key]['appointments']:,} | {per[key]['queries']} |"
            for key, label in (("small", "fewest appointments"), ("large", "most appointments"))
        ),
        "",
        f"First run opened: {json.dumps(c['flags_opened_first_run'])}; prompts raised: "
        f"{c['prompts_raised_first_run']:,}.",
        "",
    ]
    return lines


def _pages(p: dict) -> list[str]:
    lines = [
        "## Pages and API lists (issues 4 and 5)",
        "",
        f"Server time per request in-process (Django test client, no network), {p['results']['dashboard']['requests']} "
        f"requests each after a warm-up, on the full data set; the busiest team has {p['team_families']:,} families "
        f"and the family page shown has {p['family_visits']} visits.",
        "",
        "| request | p50 ms | p95 ms | queries | budget p95 ms |",
        "| --- | ---: | ---: | ---: | ---: |",
    ]
    for name, r in p["results"].items():
        label = f"{name.replace('_', ' ')} (`{r['url']}`)"
        lines.append(f"| {label} | {r['p50_ms']} | {r['p95_ms']} | {r['queries']} | {p['budget_ms']} |")
    return [*lines, ""]


def _limits(lim: dict) -> list[str]:
    c, a = lim["checks"], lim["api"]
    lines = [
        "## The limit, side by side",
        "",
        "Each project figure next to a hand-written minimal equivalent, timed in the same run on the same data.",
        "",
        "| measure | project median (p95) ms | minimal median (p95) ms | ratio | aim |",
        "| --- | ---: | ---: | ---: | ---: |",
        f"| checks: `{c['rule']}` steady run vs the rule as one raw SQL query "
        f"({c['raw_rows']} children found; project holds {c['project_open_flags']} open flags) "
        f"| {c['project']['median_ms']} ({c['project']['p95_ms']}) | {c['raw_sql']['median_ms']} "
        f"({c['raw_sql']['p95_ms']}) | {c['ratio']}x | {c['target_ratio']}x |",
        f"| API: {a['endpoint']} vs a bare JSON view (same count, rows and fields) "
        f"| {a['project']['median_ms']} ({a['project']['p95_ms']}) | {a['bare_view']['median_ms']} "
        f"({a['bare_view']['p95_ms']}) | {a['ratio']}x | {a['target_ratio']}x |",
    ]
    if "cursor_page_1000" in a:
        d = a["cursor_page_1000"]
        s = a.get("cursor_page_1")
        if s:
            lines.append(
                f"| API: the 1,000th cursor page of 10 (no OFFSET) vs the first page of 10 | {d['median_ms']} "
                f"({d['p95_ms']}) | {s['median_ms']} ({s['p95_ms']}) | {round(d['median_ms'] / s['median_ms'], 2)}x | "
                "about 1x |"
            )
        else:
            lines.append(f"| API: the 1,000th cursor page of 10 (no OFFSET) | {d['median_ms']} ({d['p95_ms']}) | | | |")
    if "project_breakdown" in c:
        b = c["project_breakdown"]
        lines += [
            "",
            f"Where a steady `{c['rule']}` run of the project goes (the median of a few runs, {b['total_ms']} ms; "
            "each statement timed as `cursor.execute`, i.e. sent and run; reading its rows into Python is under "
            "Python):",
            "",
            "| part | ms | statements |",
            "| --- | ---: | ---: |",
            *(
                f"| {name} | {part['ms']} | {part['statements'] or ''} |"
                for name, part in sorted(b["parts"].items(), key=lambda item: -item[1]["ms"])
            ),
        ]
    if "raw_sql_serial" in c:
        lines += [
            "",
            f"The raw query ran both ways each time: {c['raw_sql_serial']['median_ms']} ms as the project's "
            f"connections run (no parallel workers) and {c['raw_sql_parallel']['median_ms']} ms with two "
            "parallel workers allowed; the faster is the minimal figure.",
        ]
    lines += ["", "### Query plans (EXPLAIN ANALYZE)", "", "| query | time ms | indexes used | plan (top nodes) |"]
    lines.append("| --- | ---: | --- | --- |")
    for name, e in lim.get("explain", {}).items():
        indexes = ", ".join(f"`{i}`" for i in e["indexes"]) or "none"
        lines.append(f"| {name} | {e['execution_ms']} | {indexes} | {' → '.join(e['plan'][:5])} |")
    return [*lines, ""]


def render() -> None:
    data = json.loads((DOCS / "performance.json").read_text())
    out = [
        "# Performance",
        "",
        "Generated by `make bench` (from `docs/performance.json`); do not edit by hand.",
        "Figures are wall-clock times on the machine below, measured against PostgreSQL.",
        "",
    ]
    any_section = next(iter(data.values()))
    m = any_section.get("machine", {})
    out += [
        f"Machine: {m.get('cpu', '?')}, {m.get('cores', '?')} cores, {m.get('memory', '?')}, "
        f"Python {m.get('python', '?')}, {m.get('postgresql', '?')}.",
        "",
    ]
    if "checks" in data:
        out += _checks(data["checks"])
    if "pages" in data:
        out += _pages(data["pages"])
    if "limits" in data:
        out += _limits(data["limits"])
    load = DOCS / "performance-load.json"
    if load.exists():
        try:
            from bench.report_load import load_section

            out += load_section(json.loads(load.read_text()))
        except ImportError:
            pass
    notes = DOCS / "performance-notes.md"
    if notes.exists():
        out += ["", notes.read_text()]
    (DOCS / "performance.md").write_text("\n".join(out) + "\n")


if __name__ == "__main__":
    render()
