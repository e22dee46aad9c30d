"""Demo set-up for `make run`: seed once, create the demo accounts, share some families.

Passwords (and the partner's API token) are random per machine and kept in `.demo-logins`
(git-ignored, readable by its owner only), never in the repo.
"""

from __future__ import annotations

import datetime as dt
import json
import secrets
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django_otp.plugins.otp_totp.models import TOTPDevice

from accounts.services import token_issue, token_matches, totp_secret
from escalation.models import CheckRun
from escalation.services.checks import run_checks_in_process

from .models import Agency, AgencyKind, Family, FamilyStatus, Role, Team, User
from .services import lead_professional_set, share_create

LOGINS_FILE = Path(settings.BASE_DIR) / ".demo-logins"
DEMO_FAMILIES = 200
DEMO_SEED = 1


@dataclass
class DemoLogin:
    username: str
    role: str
    password: str
    token: str | None = None
    totp_secret: str | None = None


def _stored_passwords() -> dict[str, str]:
    try:
        return json.loads(LOGINS_FILE.read_text())
    except (FileNotFoundError, ValueError):
        return {}


def _ensure_user(username: str, *, role: str, agency: Agency, team: Team | None, name: tuple[str, str], stored):
    user, created = User.objects.get_or_create(
        username=username,
        defaults={"role": role, "agency": agency, "team": team, "first_name": name[0], "last_name": name[1]},
    )
    password = stored.get(username)
    if created or not password or not user.check_password(password):
        password = secrets.token_urlsafe(12)
        user.set_password(password)
        user.save()
    return user, password


@transaction.atomic
def demo_setup(*, families: int = DEMO_FAMILIES, seed: int = DEMO_SEED, stdout=None) -> list[DemoLogin]:
    from .seed import seed_demo

    if not Family.objects.exists():
        seed_demo(families=families, seed=seed, stdout=stdout)
    stored = _stored_passwords()
    team = Team.objects.filter(families__isnull=False).order_by("id").first()
    council = team.agency
    health = Agency.objects.filter(kind=AgencyKind.HEALTH_VISITING).order_by("id").first()
    if health is None:
        health = Agency.objects.create(name="Northshire Health Visiting", kind=AgencyKind.HEALTH_VISITING)

    practitioner, p_pw = _ensure_user(
        "practitioner", role=Role.PRACTITIONER, agency=council, team=team, name=("Priya", "Patel"), stored=stored
    )
    # The printed manager login is the team's own manager: the one high prompts are routed to.
    seeded_manager = (
        User.objects.filter(team=team, role=Role.MANAGER, is_active=True)
        .exclude(username="manager")
        .order_by("id")
        .first()
    )
    if seeded_manager is not None and not User.objects.filter(username="manager").exists():
        seeded_manager.username = "manager"
        seeded_manager.save(update_fields=["username"])
    manager, m_pw = _ensure_user(
        "manager", role=Role.MANAGER, agency=council, team=team, name=("Morgan", "Reid"), stored=stored
    )
    head, _ = _ensure_user(
        "head-of-service", role=Role.MANAGER, agency=council, team=team, name=("Sam", "Okafor"), stored=stored
    )
    if council.head_of_service_id is None:
        council.head_of_service = head
        council.save(update_fields=["head_of_service"])
    partner, h_pw = _ensure_user(
        "partner", role=Role.PARTNER, agency=health, team=None, name=("Health", "Visiting"), stored=stored
    )
    # Only a hash of an API token is stored: the demo keeps its partner's key beside the passwords,
    # and issues a new one when that key no longer works (revoked, expired or a fresh database).
    token = stored.get("partner-token")
    if not token or not token_matches(user=partner, key=token):
        token = token_issue(user=partner).key

    # The demo practitioner leads a handful of the team's open families; some are shared with health.
    if not Family.objects.filter(lead_professional=practitioner).exists():
        open_families = list(Family.objects.filter(team=team, status=FamilyStatus.OPEN).order_by("id")[:12])
        for family in open_families[:8]:
            lead_professional_set(actor=manager, family=family, user=practitioner)
        for family in open_families[:6]:
            share_create(
                actor=manager,
                family=family,
                agency=health,
                purpose="Health visiting for the children under five",
                legal_basis="Children Act 1989 s.17; UK GDPR art. 6(1)(e) and 9(2)(h)",
                ends=timezone.localdate() + dt.timedelta(days=365),
            )

    if not CheckRun.objects.exists():
        # The demo shows what the checks find from the first page load, with six months of history.
        simulate_check_history()

    LOGINS_FILE.write_text(json.dumps({"practitioner": p_pw, "manager": m_pw, "partner": h_pw, "partner-token": token}))
    LOGINS_FILE.chmod(0o600)
    # Managers must give a second factor: the demo's has an authenticator set up already.
    device = TOTPDevice.objects.filter(user=manager, confirmed=True).first() or TOTPDevice.objects.create(
        user=manager, name="Demo authenticator", confirmed=True
    )
    return [
        DemoLogin("practitioner", "practitioner", p_pw),
        DemoLogin("manager", "manager", m_pw, totp_secret=totp_secret(device)),
        DemoLogin("partner", "partner", h_pw, token),
    ]


HISTORY_WEEKS = 26
# Most prompts are decided within a few days; the rest run past their due date and escalate.
DECIDED_SHARE = 0.9
ESCALATED_DECIDED_SHARE = 0.6
DECISIONS = [
    ("Discussed in supervision; visit booked with the family", "Pattern confirmed; a clear plan is needed"),
    ("Called the GP and health visitor to share what we know", "Agencies need the full picture"),
    ("Father's details requested at the next visit", "Absent parent not yet known to us"),
    ("Allocated a lead professional", "Nobody was coordinating the work"),
    ("Strategy discussion arranged", "Risk has increased across agencies"),
]


def simulate_check_history(*, weeks: int = HISTORY_WEEKS, now=None) -> None:
    """Run the checks as they would have run weekly over the last six months, with most prompts
    decided within days by whoever they went to, so the dashboard's charts show a history.

    Demo data only: decisions are written directly, stamped with the (past) time they were made.
    """
    import datetime as dt
    import random

    from django.utils import timezone

    from escalation.models import ACTIVE_PROMPT_STATUSES, EscalationPrompt, PromptEvent, PromptEventKind
    from escalation.models import CheckRunKind as Kind

    now = now or timezone.now()
    rng = random.Random(DEMO_SEED)
    for week in range(weeks, 0, -1):
        as_of = now - dt.timedelta(weeks=week)
        run_checks_in_process(kind=Kind.FULL, as_of=as_of)
        decided_at = as_of + dt.timedelta(days=2)
        events = []
        # The prompts this run raised: most are decided within days; those escalated less often.
        for prompt in EscalationPrompt.objects.filter(status__in=ACTIVE_PROMPT_STATUSES, created_at=as_of).order_by(
            "id"
        ):
            share = DECIDED_SHARE if prompt.escalated_from_id is None else ESCALATED_DECIDED_SHARE
            if rng.random() >= share:
                continue
            action, rationale = rng.choice(DECISIONS)
            EscalationPrompt.objects.filter(pk=prompt.pk).update(
                status="actioned", action_taken=action, rationale=rationale, updated_at=decided_at
            )
            events.append(
                PromptEvent(
                    prompt=prompt,
                    at=decided_at,
                    actor_id=prompt.assigned_to_id,
                    kind=PromptEventKind.ACTIONED,
                    from_status=prompt.status,
                    to_status="actioned",
                    action_taken=action,
                    rationale=rationale,
                )
            )
        PromptEvent.objects.bulk_create(events)
    run_checks_in_process(kind=Kind.FULL, as_of=now)
