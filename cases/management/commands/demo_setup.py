"""Used by `make run`: seed the demo data once, ensure the demo accounts, print their logins."""

from django.core.management.base import BaseCommand

from audit.context import audit_route
from cases.demo import DEMO_FAMILIES, demo_setup


class Command(BaseCommand):
    help = "Seed the demo data set once and print the demo logins."

    def add_arguments(self, parser):
        parser.add_argument("--families", type=int, default=DEMO_FAMILIES)

    def handle(self, *args, **options):
        with audit_route("command demo_setup"):
            logins = demo_setup(families=options["families"], stdout=self.stdout)
        self.stdout.write("")
        self.stdout.write("Demo logins (sign in at http://127.0.0.1:8000/):")
        for login in logins:
            self.stdout.write(f"  {login.role:<13} username: {login.username:<13} password: {login.password}")
        for login in logins:
            if login.totp_secret:
                self.stdout.write(
                    f"  {login.role} second factor: add key {login.totp_secret} to an authenticator app, "
                    f"or run `.venv/bin/python manage.py totp_code {login.username}` for the current code"
                )
        partner = next(login for login in logins if login.token)
        self.stdout.write(f"  partner API token: {partner.token}")
        self.stdout.write(
            f'  try: curl -H "Authorization: Token {partner.token}" http://127.0.0.1:8000/api/v1/families/'
        )
        self.stdout.write("")
