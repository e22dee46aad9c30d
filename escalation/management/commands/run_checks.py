"""`manage.py run_checks [--incremental] [--rule CODE ...] [--family ID ...] [--celery]`

Runs every check now, in this process (the same code the Celery tasks run), and prints what it
opened, kept and resolved per rule, and the prompts it raised and escalated. `--celery` dispatches
the run to the workers instead and returns at once.
"""

from __future__ import annotations

import time

from django.core.management.base import BaseCommand, CommandError

from audit.context import audit_route
from escalation.models import CheckRunKind
from escalation.rules import RULES
from escalation.services.checks import run_checks_in_process


class Command(BaseCommand):
    help = "Run the safeguarding checks now and print what changed."

    def add_arguments(self, parser):
        parser.add_argument("--incremental", action="store_true", help="Only families changed since the last run.")
        parser.add_argument("--rule", action="append", choices=sorted(RULES), help="Only this rule (repeatable).")
        parser.add_argument("--family", action="append", type=int, help="Only this family id (repeatable).")
        parser.add_argument("--celery", action="store_true", help="Dispatch to the Celery workers and return.")

    def handle(self, *args, **options):
        if options["celery"]:
            from escalation.tasks import run_full_checks, run_incremental_checks

            if options["family"] or options["rule"]:
                raise CommandError("--celery runs every rule over every (or every changed) family.")
            result = run_incremental_checks.delay() if options["incremental"] else run_full_checks.delay()
            self.stdout.write(f"Dispatched to Celery (task {result.id}).")
            return
        started = time.perf_counter()
        with audit_route("command run_checks"):
            run, report = run_checks_in_process(
                kind=CheckRunKind.INCREMENTAL if options["incremental"] else CheckRunKind.ON_DEMAND,
                rule_codes=options["rule"],
                family_ids=options["family"],
                incremental=options["incremental"],
            )
        elapsed = time.perf_counter() - started
        self.stdout.write(
            f"Checked {report.families} families in {report.chunks} chunk(s) in {elapsed:.1f} s (run {run.pk})."
        )
        self.stdout.write(f"{'rule':<24}{'opened':>8}{'kept':>8}{'resolved':>10}")
        for code in options["rule"] or RULES:
            self.stdout.write(f"{code:<24}{report.opened[code]:>8}{report.kept[code]:>8}{report.resolved[code]:>10}")
        self.stdout.write(f"Prompts raised: {report.prompts_raised}; escalated as overdue: {report.prompts_escalated}.")
