"""The overlap margin of incremental runs is one of the check settings, edited in the admin."""

from __future__ import annotations

import pytest

from escalation.models import CheckRun, CheckRunKind, CheckSettings

pytestmark = pytest.mark.django_db


def test_the_incremental_overlap_is_edited_with_the_other_check_settings(client, admin_user):
    CheckSettings.load()
    client.force_login(admin_user)
    response = client.get("/admin/escalation/checksettings/1/change/")
    assert response.status_code == 200
    assert 'name="incremental_overlap_seconds"' in response.content.decode()


def test_a_runs_safe_starting_point_is_shown_not_edited(client, admin_user):
    run = CheckRun.objects.create(kind=CheckRunKind.FULL)
    client.force_login(admin_user)
    html = client.get(f"/admin/escalation/checkrun/{run.pk}/change/").content.decode()
    assert 'name="next_since' not in html
