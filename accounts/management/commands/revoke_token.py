"""`manage.py revoke_token USERNAME [--reissue]`: a partner's API token stops working at once.

With `--reissue`, a new token is created and printed on the last line (to hand to the partner
over a secure channel); the old one is refused from the next request.
"""

from django.core.management.base import BaseCommand, CommandError

from accounts.services import token_issue, token_revoke
from cases.models import User


class Command(BaseCommand):
    help = "Revoke a user's API token (the next request with it gets 401); --reissue prints a new one."

    def add_arguments(self, parser):
        parser.add_argument("username")
        parser.add_argument("--reissue", action="store_true", help="Create a new token and print it last.")

    def handle(self, *args, **options):
        try:
            user = User.objects.get(username=options["username"])
        except User.DoesNotExist as exc:
            raise CommandError(f"No user called {options['username']!r}.") from exc
        revoked = token_revoke(user=user)
        self.stdout.write(f"Token of {user.username} {'revoked' if revoked else 'not found (none to revoke)'}.")
        if options["reissue"]:
            self.stdout.write(token_issue(user=user).key)
