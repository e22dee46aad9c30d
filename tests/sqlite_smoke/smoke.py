"""Run by tests/test_embedded_sqlite.py in a subprocess, against the embedded default (SQLite,
in-process Celery), never under pytest: the database is whatever DATABASE_URL names.

    python tests/sqlite_smoke/smoke.py demo_setup   `manage.py demo_setup`, with the demo logins
                                                     written to $SMOKE_DEMO_LOGINS, not the
                                                     checkout's own .demo-logins
    python tests/sqlite_smoke/smoke.py pages        every main page and API list, for each demo
                                                     persona, with django.test.Client; prints a
                                                     JSON summary on its last line of stdout

In the summary each request, keyed "<persona> <METHOD> <url>", has its status, the statuses
expected, an `error` (the traceback's end on a 500, the start of the body on another unexpected
status) and, for pages that show records, an `audit` problem if the VIEW rows written for the
request are not exactly the records shown.
"""

from __future__ import annotations

import csv
import io
import json
import os
import sys
import traceback
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parents[2]


def _django() -> None:
    sys.path.insert(0, str(BASE_DIR))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "safeguarding.settings.base")  # as manage.py
    import django

    django.setup()


def demo_setup() -> None:
    """`manage.py demo_setup` as `make run` runs it; only the logins file is elsewhere, so the
    test never replaces the passwords of the developer's own demo database."""
    _django()
    from django.core.management import execute_from_command_line

    import cases.demo

    cases.demo.LOGINS_FILE = Path(os.environ["SMOKE_DEMO_LOGINS"])
    execute_from_command_line(["manage.py", "demo_setup"])


# --- pages ------------------------------------------------------------------------------------

OK, FOUND, FORBIDDEN, NOT_FOUND, UNAUTHORIZED = 200, 302, 403, 404, 401


def _traceback_end(lines: list[str]) -> str:
    """The innermost frames and the exception, without the ^^^ markers under the source lines."""
    return "\n".join([line for line in lines if line.strip(" ^~")][-12:])


def _error(response) -> str:
    exc_info = getattr(response, "exc_info", None)
    if exc_info:
        return _traceback_end("".join(traceback.format_exception(*exc_info)).rstrip().splitlines())
    body = getattr(response, "content", b"") if not getattr(response, "streaming", False) else b""
    return body.decode("utf-8", "replace")[:400]


class Smoke:
    def __init__(self) -> None:
        from audit.models import AuditEvent

        self.AuditEvent = AuditEvent
        self.results: dict[str, dict] = {}

    def last_audit_id(self) -> int:
        return self.AuditEvent.objects.order_by("-id").values_list("id", flat=True).first() or 0

    def request(
        self, persona, client, url, expect, *, method="get", data=None, headers=None, user=None, shows=None, **audit
    ):
        """One request. `shows(response) -> (model label, ids)`: the records the response shows,
        each of which must have exactly one VIEW row (`audit_action`) by `user` written during
        the request."""
        shown_headers = {k: v for k, v in (headers or {}).items() if k != "Authorization"}
        key = f"{persona} {method.upper()} {url}" + "".join(f" [{k}: {v}]" for k, v in shown_headers.items())
        assert key not in self.results, key
        expected = [expect] if isinstance(expect, int) else list(expect)
        entry: dict = {"expected": expected}
        before = self.last_audit_id()
        try:
            response = getattr(client, method)(url, data, headers=headers)
            entry["status"] = response.status_code
            if getattr(response, "streaming", False):  # the CSV export: its rows are read as sent
                response.smoke_body = b"".join(response.streaming_content)
            if response.status_code not in expected:
                entry["error"] = _error(response)
            elif shows is not None and response.status_code == OK:
                entry["audit"] = self.audit_problem(response, before, user, shows, **audit)
        except Exception:  # a failure outside the handler (middleware, streaming body, the check)
            entry.setdefault("status", "exception")
            entry["error"] = _traceback_end(traceback.format_exc().rstrip().splitlines())
        if not entry.get("audit"):
            entry.pop("audit", None)
        self.results[key] = entry
        return entry

    def audit_problem(self, response, before, user, shows, audit_action="view") -> str | None:
        shown = shows(response)
        if shown is None:
            return None
        label, ids = shown
        shown = sorted(str(pk) for pk in ids)
        rows = list(
            self.AuditEvent.objects.filter(
                id__gt=before, actor_id=user.pk, action=audit_action, model=label
            ).values_list("object_id", flat=True)
        )
        if not shown:
            return f"shows no {label} records, so its audit rows cannot be checked (the demo data should have some)"
        if sorted(rows) != shown:
            return (
                f"{audit_action.upper()} rows for {label}: {sorted(rows)[:30]} (of {len(rows)}); "
                f"shown: {shown[:30]} (of {len(shown)})"
            )
        return None


def _page_ids(response) -> list[int]:
    """The records of a paginated page: families on the caseload, prompt rows on the dashboard."""
    rows = response.context["page"].object_list
    return [row["pk"] if isinstance(row, dict) else row.pk for row in rows]


def _prompts_listed(response) -> tuple[str, list[int]]:
    return "escalation.escalationprompt", _page_ids(response)


def _exported(response) -> tuple[str, list[int]]:
    """The prompts in the CSV export (its first column), each of which needs an EXPORT row."""
    rows = list(csv.reader(io.StringIO(response.smoke_body.decode("utf-8"))))[1:]
    return "escalation.escalationprompt", [int(row[0]) for row in rows if row]


def _api_ids(response) -> list[int]:
    return [row["id"] for row in response.json()["results"]]


def _web_client(user=None, *, device=None):
    from django.test import Client
    from django_otp import DEVICE_ID_SESSION_KEY

    client = Client(raise_request_exception=False)
    if user is not None:
        client.force_login(user)
    if device is not None:  # the second factor, as a sign-in with a TOTP code leaves the session
        session = client.session
        session[DEVICE_ID_SESSION_KEY] = device.persistent_id
        session.save()
    return client


def pages() -> None:
    _django()
    from django.conf import settings
    from django.db import connection
    from django.test.utils import setup_test_environment

    setup_test_environment()  # response.context, as under the test runner

    from django_otp.plugins.otp_totp.models import TOTPDevice

    from accounts.services import token_issue
    from cases.access import current_shares, visible_families
    from cases.models import Family, User
    from escalation.models import EscalationPrompt
    from visits.models import Appointment, Visit

    smoke = Smoke()
    practitioner = User.objects.get(username="practitioner")
    manager = User.objects.get(username="manager")
    partner = User.objects.get(username="partner")
    team = practitioner.team
    shared_ids = set(current_shares().filter(agency_id=partner.agency_id).values_list("family_id", flat=True))
    # A family the practitioner leads and the partner's agency shares: all three personas see it.
    family = (
        Family.objects.filter(lead_professional=practitioner, pk__in=shared_ids).order_by("id").first()
        or Family.objects.filter(lead_professional=practitioner).order_by("id").first()
    )
    member = family.members.order_by("id").first()
    # Visits and appointments of the family: the owning team edits any; a partner its agency's own.
    team_visit = Visit.objects.filter(family=family, agency_id=team.agency_id).order_by("id").first()
    appointment = Appointment.objects.filter(family=family).order_by("id").first()
    partner_visit = Visit.objects.filter(family_id__in=shared_ids, agency_id=partner.agency_id).order_by("id").first()
    partner_appointment = (
        Appointment.objects.filter(family_id__in=shared_ids, agency_id=partner.agency_id).order_by("id").first()
    )
    other_team_family = Family.objects.exclude(team=team).order_by("id").first()
    unshared_family = Family.objects.exclude(pk__in=shared_ids).order_by("id").first()

    def prompt_for(user):
        visible = EscalationPrompt.objects.filter(family__in=visible_families(user))
        return (visible.filter(assigned_to=user) or visible).order_by("id").first()

    def family_viewed(response):
        return "cases.family", [family.pk]

    # --- signed out -----------------------------------------------------------------------------
    anonymous = _web_client()
    smoke.request("anonymous", anonymous, "/healthz", OK)
    smoke.request("anonymous", anonymous, "/accounts/login/", OK)
    smoke.request("anonymous", anonymous, "/", FOUND)
    smoke.request("anonymous", anonymous, "/api/v1/families/", UNAUTHORIZED)

    # --- the owning team in the browser: the practitioner, and the manager past the second factor
    device = TOTPDevice.objects.filter(user=manager, confirmed=True).order_by("id").first()
    smoke.request("manager(no second factor)", _web_client(manager), "/", FOUND)
    fid = family.pk
    for persona, user, client in (
        ("practitioner", practitioner, _web_client(practitioner)),
        ("manager", manager, _web_client(manager, device=device)),
    ):
        is_manager = persona == "manager"

        def get(url, expect, *, persona=persona, client=client, user=user, **kw):
            return smoke.request(persona, client, url, expect, user=user, **kw)

        get("/", OK, shows=lambda r: ("cases.family", _page_ids(r)))
        get("/?status=&sort=last_visit", OK, shows=lambda r: ("cases.family", _page_ids(r)))
        get("/search/", OK)
        get(
            "/search/",
            OK,
            method="post",
            data={"q": member.family_name},
            shows=lambda r: ("cases.member", [m.pk for m in r.context["results"] or []]),
        )
        get("/accounts/", OK)
        get("/families/add/", OK)
        get(f"/families/{fid}/", OK, shows=family_viewed)
        get(f"/families/{fid}/?kind=visit", OK, headers={"HX-Request": "true", "HX-Target": "chronology-list"})
        get(f"/families/{fid}/access-log/", OK if is_manager else FORBIDDEN)
        for form in (
            "members/add/",
            f"members/{member.pk}/",
            "gaps/add/",
            "relationships/add/",
            "significant-adults/",
            "lead-professional/",
            "shares/add/",
            "visits/add/",
            "appointments/add/",
            "referrals/add/",
        ):
            get(f"/families/{fid}/{form}", OK)
        if team_visit:
            get(f"/families/{fid}/visits/{team_visit.pk}/", OK)
        if appointment:
            get(f"/families/{fid}/appointments/{appointment.pk}/", OK)
        if other_team_family:
            get(f"/families/{other_team_family.pk}/", NOT_FOUND)
        # The default list is the open prompts: the demo practitioner has none open, only decided.
        get("/dashboard/", OK, shows=_prompts_listed if is_manager else None)
        get("/dashboard/?status=", OK, shows=_prompts_listed)
        get("/dashboard/?status=&severity=high&page=2", OK)
        get("/dashboard/?status=", OK, headers={"HX-Request": "true", "HX-Target": "prompt-list"})
        get("/dashboard/export.csv", OK)
        get("/dashboard/export.csv?status=", OK, shows=_exported, audit_action="export")
        prompt = prompt_for(user)
        if prompt:
            get(f"/prompts/{prompt.pk}/", OK)

    # --- the partner agency: its shared families in the browser, and the API with its token ----
    web = _web_client(partner)

    def partner_get(url, expect, **kw):
        return smoke.request("partner", web, url, expect, user=partner, **kw)

    partner_get("/", OK, shows=lambda r: ("cases.family", _page_ids(r)))
    partner_get(f"/families/{fid}/", OK if fid in shared_ids else NOT_FOUND, shows=family_viewed)
    partner_get(f"/families/{fid}/access-log/", FORBIDDEN if fid in shared_ids else NOT_FOUND)
    partner_get(f"/families/{fid}/visits/add/", OK if fid in shared_ids else NOT_FOUND)
    partner_get(f"/families/{fid}/appointments/add/", OK if fid in shared_ids else NOT_FOUND)
    partner_get(f"/families/{fid}/members/add/", FORBIDDEN if fid in shared_ids else NOT_FOUND)
    if team_visit and fid in shared_ids:
        partner_get(f"/families/{fid}/visits/{team_visit.pk}/", FORBIDDEN)  # the owning team's record
    if partner_visit:
        partner_get(f"/families/{partner_visit.family_id}/visits/{partner_visit.pk}/", OK)
    if partner_appointment:
        partner_get(f"/families/{partner_appointment.family_id}/appointments/{partner_appointment.pk}/", OK)
    partner_get("/families/add/", FORBIDDEN)
    partner_get("/dashboard/", FORBIDDEN)
    partner_get("/dashboard/export.csv", FORBIDDEN)
    if unshared_family:
        partner_get(f"/families/{unshared_family.pk}/", NOT_FOUND)
    prompt = prompt_for(partner)
    if prompt:
        partner_get(f"/prompts/{prompt.pk}/", OK)

    token = token_issue(user=partner).key
    api = _web_client()
    auth = {"Authorization": f"Token {token}"}

    def api_get(url, expect, **kw):
        return smoke.request("partner(token)", api, url, expect, headers=auth, user=partner, **kw)

    for resource, label in (
        ("families", "cases.family"),
        ("visits", "visits.visit"),
        ("appointments", "visits.appointment"),
        ("members", "cases.member"),
    ):
        api_get(f"/api/v1/{resource}/", OK, shows=lambda r, label=label: (label, _api_ids(r)))
    for resource in ("me/", "agencies/", "referrals/", "flags/", "escalations/"):
        api_get(f"/api/v1/{resource}", OK)
    shared = fid if fid in shared_ids else min(shared_ids)
    api_get(f"/api/v1/families/{shared}/", OK, shows=lambda r: ("cases.family", [shared]))
    api_get(f"/api/v1/families/{shared}/chronology/", OK)
    for nested in ("members/", "shares/", "relationships/", "gaps/", "lead-professional/"):
        api_get(f"/api/v1/families/{shared}/{nested}", OK)
    if unshared_family:
        api_get(f"/api/v1/families/{unshared_family.pk}/", NOT_FOUND)
        api_get(f"/api/v1/families/{unshared_family.pk}/chronology/", NOT_FOUND)

    summary = {
        "vendor": connection.vendor,
        "database": str(connection.settings_dict["NAME"]),
        "celery_eager": settings.CELERY_TASK_ALWAYS_EAGER,
        "results": smoke.results,
    }
    print(json.dumps(summary))


if __name__ == "__main__":
    {"demo_setup": demo_setup, "pages": pages}[sys.argv[1]]()
