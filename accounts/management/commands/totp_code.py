"""`manage.py totp_code USERNAME`: the current code of the user's authenticator, for the demo only.

The demo's manager must give a second factor like any manager; on a demo machine with no phone to
hand, this prints the code the app would show. It refuses to run unless DEBUG is on, since it
reads the secret key (anyone who can run it can read the database anyway).
"""

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django_otp.oath import totp
from django_otp.plugins.otp_totp.models import TOTPDevice


class Command(BaseCommand):
    help = "Print the current authenticator code of a demo user (DEBUG only)."

    def add_arguments(self, parser):
        parser.add_argument("username")

    def handle(self, *args, **options):
        if not settings.DEBUG:
            raise CommandError("totp_code is for the demo only and runs only with DEBUG on.")
        device = TOTPDevice.objects.filter(user__username=options["username"], confirmed=True).first()
        if device is None:
            raise CommandError(f"{options['username']!r} has no authenticator set up.")
        code = totp(device.bin_key, step=device.step, t0=device.t0, digits=device.digits)
        self.stdout.write(f"{code:0{device.digits}d}")
