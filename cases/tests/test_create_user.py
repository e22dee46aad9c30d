from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from accounts.services import token_matches
from cases.models import Agency, Team, User

pytestmark = pytest.mark.django_db


def run(*args: str) -> list[str]:
    out = StringIO()
    call_command("create_user", *args, stdout=out)
    return out.getvalue().strip().splitlines()


def test_creates_agency_team_and_token_on_last_line():
    lines = run("hv1", "--role", "partner", "--agency", "Northshire Health Visiting", "--token")
    user = User.objects.get(username="hv1")
    assert user.role == "partner"
    assert user.agency.name == "Northshire Health Visiting"
    assert token_matches(user=user, key=lines[-1])
    assert len(lines[-1]) == 64  # django-rest-knox keys


def test_reuses_existing_agency_and_team():
    run("a1", "--role", "practitioner", "--agency", "Council", "--team", "North", "--password", "a-long-passphrase-9")
    run("a2", "--role", "manager", "--agency", "Council", "--team", "North", "--password", "a-long-passphrase-9")
    assert Agency.objects.filter(name="Council").count() == 1
    assert Team.objects.filter(name="North").count() == 1
    assert User.objects.get(username="a1").check_password("a-long-passphrase-9")


def test_practitioner_without_team_is_refused_and_nothing_saved():
    with pytest.raises(CommandError, match="team"):
        run("x", "--role", "practitioner", "--agency", "Council")
    assert not User.objects.filter(username="x").exists()


def test_weak_password_is_refused():
    with pytest.raises(CommandError):
        run("y", "--role", "partner", "--agency", "Police", "--password", "password")
    assert not User.objects.filter(username="y").exists()


def test_duplicate_username_is_refused():
    run("z", "--role", "partner", "--agency", "Police")
    with pytest.raises(CommandError, match="already exists"):
        run("z", "--role", "partner", "--agency", "Police")


def test_agency_required_except_admin():
    with pytest.raises(CommandError, match="--agency"):
        run("p", "--role", "partner")
    run("boss", "--role", "admin", "--password", "a-long-passphrase-9")
    assert User.objects.get(username="boss").is_superuser
