"""`manage.py create_user USERNAME --role ROLE --agency NAME [--team NAME] [--password P] [--token]`

Creates the agency and team if new. With `--token` the API token is printed on the last line,
alone, so scripts can take it with `tail -n 1`.
"""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from audit.context import audit_route
from cases.models import AgencyKind, Role
from cases.services import user_create


class Command(BaseCommand):
    help = "Create a user (and their agency/team if new); --token prints an API token on the last line."

    def add_arguments(self, parser):
        parser.add_argument("username")
        parser.add_argument("--role", required=True, choices=Role.values)
        parser.add_argument("--agency", help="Agency name (created if new). Required except for admins.")
        parser.add_argument("--agency-kind", default=AgencyKind.OTHER, choices=AgencyKind.values)
        parser.add_argument("--team", help="Team name within the agency (created if new).")
        parser.add_argument("--password", help="Without it the user cannot sign in to the browser (API token only).")
        parser.add_argument("--first-name", default="")
        parser.add_argument("--last-name", default="")
        parser.add_argument("--email", default="")
        parser.add_argument("--token", action="store_true", help="Create an API token and print it last.")

    def handle(self, *args, **options):
        if options["role"] != Role.ADMIN and not options["agency"]:
            raise CommandError("--agency is required for every role except admin.")
        try:
            with audit_route("command create_user"):
                user, token = user_create(
                    username=options["username"],
                    role=options["role"],
                    agency_name=options["agency"],
                    agency_kind=options["agency_kind"],
                    team_name=options["team"],
                    password=options["password"],
                    first_name=options["first_name"],
                    last_name=options["last_name"],
                    email=options["email"],
                    with_token=options["token"],
                )
        except ValidationError as exc:
            messages = (
                [f"{field}: {'; '.join(errs)}" for field, errs in exc.message_dict.items()]
                if hasattr(exc, "error_dict")
                else exc.messages
            )
            raise CommandError(" ".join(messages)) from exc
        where = f"{user.agency}" + (f" / {user.team.name}" if user.team else "") if user.agency else "no agency"
        self.stdout.write(f"Created {user.role} {user.username} (id {user.pk}, {where}).")
        if token:
            self.stdout.write(token)
