"""The load test's simulated people (locust), run by bench/load.py against gunicorn:

- PractitionerUser: signs in (password), opens the caseload and family pages of their team, and now
  and then logs a visit through the form (a planned visit, with purpose and expected outcome);
- ManagerUser: signs in with a password and an authenticator code (TOTP), opens the team's
  escalation dashboard, plain and filtered, and some of the team's families;
- PartnerUser: a partner agency's system with an API token, syncing `?updated_since=` (paging through
  `next` links) families, visits and appointments, and now and then recording an appointment.

Environment (set by bench/load.py): LOAD_ACCOUNTS (the credentials JSON), LOAD_RESULTS (where to
write the figures), LOAD_WARMUP (seconds before measuring starts), LOAD_THINK ("min,max" seconds
between actions).

Requests are named by type ("page: family", "api: visits list") so figures group per type. A
request fails on any status but the expected one (a redirect too: a page that sends you to sign in
has failed), and a page fails if it is not a signed-in page.
"""

from __future__ import annotations

import datetime as dt
import html
import itertools
import json
import math
import os
import random
import re
import time
from binascii import unhexlify
from collections import Counter, defaultdict
from pathlib import Path
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

import gevent
from django_otp.oath import totp  # pure Python: no Django settings needed
from locust import FastHttpUser, between, events, task

ACCOUNTS = json.loads(Path(os.environ["LOAD_ACCOUNTS"]).read_text()) if os.environ.get("LOAD_ACCOUNTS") else {}
RESULTS = os.environ.get("LOAD_RESULTS", "")
WARMUP = float(os.environ.get("LOAD_WARMUP", "10"))
THINK = tuple(float(x) for x in os.environ.get("LOAD_THINK", "0.5,1.5").split(","))
MARK = ACCOUNTS.get("mark", "Load test:")
SYNC_MAX_PAGES = 4  # a sync follows `next` to the end, or this many pages
FORM_HEADERS = {"Content-Type": "application/x-www-form-urlencoded"}
SIGNED_IN = "Signed in as"
INPUT_RE = re.compile(r"<input\b[^>]*>", re.I)
ATTR_RE = re.compile(r'([\w-]+)="([^"]*)"')


def _inputs(page: str) -> list[dict[str, str]]:
    return [{k: html.unescape(v) for k, v in ATTR_RE.findall(tag)} for tag in INPUT_RE.findall(page)]


def _csrf(page: str) -> str:
    for attrs in _inputs(page):
        if attrs.get("name") == "csrfmiddlewaretoken":
            return attrs.get("value", "")
    return ""


def _title(page: str) -> str:
    m = re.search(r"<title>(.*?)</title>", page, re.S)
    return html.unescape(m.group(1)).strip() if m else ""


def _expect_page(resp) -> bool:
    """200, a signed-in page (not the sign-in or second-factor page), and no error in the title."""
    if resp.status_code != 200:
        where = resp.headers.get("Location", "") if resp.headers else ""
        resp.failure(f"HTTP {resp.status_code} {where}".strip())
        return False
    text = resp.text or ""
    title = _title(text)
    if SIGNED_IN not in text or title.startswith(("Sign in", "Enter the code")):
        resp.failure(f"not a signed-in page: {title!r}")
        return False
    resp.success()
    return True


def _expect_redirect(resp, *, not_to: tuple[str, ...] = ("/accounts/",)) -> bool:
    location = resp.headers.get("Location", "") if resp.headers else ""
    if resp.status_code != 302 or not location or any(p in location for p in not_to):
        title = _title(resp.text or "") if resp.status_code == 200 else ""
        resp.failure(f"HTTP {resp.status_code} {location} {title}".strip())
        return False
    resp.success()
    return True


def _accounts(kind: str, offset: int = 0):
    """Hand out the accounts of one kind in turn, one per simulated user, from `offset` on."""
    pool = ACCOUNTS.get(kind) or []
    counter = itertools.count(offset)
    return lambda: pool[next(counter) % len(pool)]


class _Browser(FastHttpUser):
    abstract = True
    wait_time = between(*THINK)

    def sign_in(self, username: str, password: str) -> bool:
        with self.client.get("/accounts/login/", name="auth: sign-in page", catch_response=True) as r:
            if r.status_code != 200:
                r.failure(f"HTTP {r.status_code}")
                return False
            token = _csrf(r.text)
        body = urlencode({"csrfmiddlewaretoken": token, "username": username, "password": password})
        with self.client.post(
            "/accounts/login/",
            data=body,
            headers=FORM_HEADERS,
            name="auth: sign in",
            allow_redirects=False,
            catch_response=True,
        ) as r:
            return _expect_redirect(r)

    def family_page(self, family_id: int) -> None:
        with self.client.get(
            f"/families/{family_id}/", name="page: family", allow_redirects=False, catch_response=True
        ) as r:
            _expect_page(r)


class PractitionerUser(_Browser):
    weight = 6
    next_account = staticmethod(_accounts("practitioners"))

    def on_start(self) -> None:
        self.account = self.next_account()
        self.families = self.account["lead_families"] + self.account["team_families"]
        if not self.sign_in(self.account["username"], ACCOUNTS["password"]):
            self.stop()

    def pick_family(self) -> int:
        # Half the time one of the families they lead, else any of their team's.
        lead = self.account["lead_families"]
        if lead and random.random() < 0.5:
            return random.choice(lead)
        return random.choice(self.account["team_families"])

    @task(3)
    def caseload(self) -> None:
        with self.client.get("/", name="page: caseload", allow_redirects=False, catch_response=True) as r:
            _expect_page(r)

    @task(1)
    def caseload_filtered(self) -> None:
        query = random.choice(
            ["?mine=on", "?sort=last_visit", "?sort=next_visit&level=child_in_need", "?page=2", "?sort=name&page=3"]
        )
        with self.client.get(
            "/" + query, name="page: caseload (filtered)", allow_redirects=False, catch_response=True
        ) as r:
            _expect_page(r)

    @task(6)
    def family(self) -> None:
        self.family_page(self.pick_family())

    @task(1)
    def log_visit(self) -> None:
        family_id = self.pick_family()
        url = f"/families/{family_id}/visits/add/"
        with self.client.get(url, name="page: visit form", allow_redirects=False, catch_response=True) as r:
            if not _expect_page(r):
                return
            fields = _inputs(r.text)
        token = next((f.get("value", "") for f in fields if f.get("name") == "csrfmiddlewaretoken"), "")
        children = [f["value"] for f in fields if f.get("name") == "children_seen" and f.get("value")]
        now = dt.datetime.now(ZoneInfo("Europe/London"))  # the service's time zone
        if random.random() < 0.5:  # a visit that happened yesterday
            day, status = (now - dt.timedelta(days=1)).date(), "completed"
        else:  # one planned for next week
            day, status = (now + dt.timedelta(days=7)).date(), "scheduled"
        pairs = [
            ("csrfmiddlewaretoken", token),
            ("version", ""),
            ("planned", "yes"),
            ("purpose", f"{MARK} review the family plan and see the children"),
            ("expected_outcome", "Children seen; plan reviewed with the family"),
            ("purpose_shared_with_family", "on"),
            ("date_day", str(day.day)),
            ("date_month", str(day.month)),
            ("date_year", str(day.year)),
            ("time", "10:30"),
            ("status", status),
        ]
        if status == "completed":
            seen = children[: random.randint(0, len(children))]
            pairs += [
                ("outcome", "Home visit completed; the children were seen."),
                ("next_steps", "Review at the next core group."),
                ("voice_of_child", "Said they like their new school."),
                ("home_conditions", "Warm and tidy."),
                *(("children_seen", c) for c in seen),
            ]
        with self.client.post(
            url,
            data=urlencode(pairs),
            headers={**FORM_HEADERS, "Referer": self.host + url},
            name="form: log visit",
            allow_redirects=False,
            catch_response=True,
        ) as r:
            _expect_redirect(r, not_to=("/accounts/", "/visits/"))


class ManagerUser(_Browser):
    weight = 2
    # bench/load.py moves the offset on for each run, so no account's code is used twice in one
    # 30 s step across runs either.
    next_account = staticmethod(_accounts("managers", int(os.environ.get("LOAD_MANAGER_OFFSET", "0"))))
    _last_step: dict[str, int] = {}  # a TOTP code counts once per device per 30 s step

    def on_start(self) -> None:
        self.account = self.next_account()
        if not self.sign_in(self.account["username"], ACCOUNTS["password"]) or not self.second_factor():
            self.stop()

    def second_factor(self) -> bool:
        with self.client.get(
            "/accounts/two-factor/verify/", name="auth: two-factor page", allow_redirects=False, catch_response=True
        ) as r:
            if r.status_code != 200:
                r.failure(f"HTTP {r.status_code}")
                return False
            token = _csrf(r.text)
        username = self.account["username"]
        step = int(time.time() // 30)
        if self._last_step.get(username) == step:
            gevent.sleep(30 - time.time() % 30 + 0.2)
            step = int(time.time() // 30)
        self._last_step[username] = step
        code = f"{totp(unhexlify(self.account['totp_key'])):06d}"
        body = urlencode({"csrfmiddlewaretoken": token, "otp_token": code, "next": "/dashboard/"})
        with self.client.post(
            "/accounts/two-factor/verify/",
            data=body,
            headers=FORM_HEADERS,
            name="auth: two-factor code",
            allow_redirects=False,
            catch_response=True,
        ) as r:
            return _expect_redirect(r)

    @task(4)
    def dashboard(self) -> None:
        with self.client.get("/dashboard/", name="page: dashboard", allow_redirects=False, catch_response=True) as r:
            _expect_page(r)

    @task(3)
    def dashboard_filtered(self) -> None:
        query = random.choice(
            [
                "?severity=high",
                "?severity=high&status=active",
                "?rule=was_not_brought",
                "?rule=missing_family_details&min_age_days=6",
                "?status=&page=2",
            ]
        )
        with self.client.get(
            "/dashboard/" + query, name="page: dashboard (filtered)", allow_redirects=False, catch_response=True
        ) as r:
            _expect_page(r)

    @task(1)
    def family(self) -> None:
        self.family_page(random.choice(self.account["team_families"]))


class PartnerUser(FastHttpUser):
    """A partner agency's case system: token authentication, incremental sync."""

    weight = 2
    wait_time = between(*THINK)
    next_account = staticmethod(_accounts("partners"))

    def on_start(self) -> None:
        self.account = self.next_account()
        self.auth = {"Authorization": f"Token {self.account['token']}", "Accept": "application/json"}
        self.last_sync = ""

    def sync(self, resource: str, since: str, kind: str) -> None:
        url = f"/api/v1/{resource}/?" + urlencode({"updated_since": since})
        for page in range(1, SYNC_MAX_PAGES + 1):
            with self.client.get(
                url,
                headers=self.auth,
                name=f"api: {resource} list",
                allow_redirects=False,
                catch_response=True,
                context={"variant": f"{kind}, page {'1' if page == 1 else '2+'}"},
            ) as r:
                if r.status_code != 200:
                    r.failure(f"HTTP {r.status_code}")
                    return
                try:
                    body = r.json()
                    url = body["next"]
                    body["results"]
                except (ValueError, KeyError, TypeError) as exc:
                    r.failure(f"not a result page: {exc!r}")
                    return
                r.success()
            if not url:
                return

    @task(8)
    def sync_all(self) -> None:
        # A first or catch-up sync now and then (every shared record), else since the last one.
        started = dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        full = not self.last_sync or random.random() < 0.3
        since = ACCOUNTS["catch_up_since"] if full else self.last_sync
        for resource in ("families", "visits", "appointments"):
            self.sync(resource, since, "catch-up" if full else "incremental")
        self.last_sync = started

    @task(1)
    def record_appointment(self) -> None:
        when = dt.datetime.now(dt.UTC) + dt.timedelta(days=random.randint(3, 40), hours=random.randint(0, 8))
        payload = {
            "member": random.choice(self.account["children"]),
            "kind": random.choice(["health_review", "development_check", "immunisation", "school_meeting"]),
            "scheduled_for": when.strftime("%Y-%m-%dT%H:%M:00Z"),
            "status": "booked",
            "notes": f"{MARK} booked by the partner's system",
        }
        with self.client.post(
            "/api/v1/appointments/",
            json=payload,
            headers=self.auth,
            name="api: appointment create",
            allow_redirects=False,
            catch_response=True,
        ) as r:
            if r.status_code != 201:
                r.failure(f"HTTP {r.status_code} {(r.text or '')[:200]}")
            else:
                r.success()


# --- figures: only requests after the warm-up, until the test starts stopping ----------------

_state = {"measuring": False, "t0": 0.0, "t1": 0.0, "env": None, "users": {}}
_times: dict[str, list[float]] = defaultdict(list)
_methods: dict[str, str] = {}
_failures: Counter = Counter()
_errors: dict[str, Counter] = defaultdict(Counter)
_warmup_counts: Counter = Counter()
_warmup_failures: Counter = Counter()
_variants: dict[tuple[str, str], list[float]] = defaultdict(list)


@events.request.add_listener
def _on_request(request_type, name, response_time, exception, context=None, **_kw) -> None:
    if not _state["measuring"]:
        _warmup_counts[name] += 1
        if exception is not None:
            _warmup_failures[name] += 1
            _errors[name][f"(warm-up) {exception}"[:200]] += 1
        return
    _times[name].append(response_time)
    _methods[name] = request_type
    if context and context.get("variant"):
        _variants[(name, context["variant"])].append(response_time)
    if exception is not None:
        _failures[name] += 1
        _errors[name][str(exception)[:200]] += 1


def _begin() -> None:
    _state["measuring"] = True
    _state["t0"] = time.time()
    runner = _state["env"].runner if _state["env"] is not None else None
    _state["users"] = dict(getattr(runner, "user_classes_count", {}) or {})


@events.test_start.add_listener
def _on_test_start(environment, **_kw) -> None:
    _state["env"] = environment
    gevent.spawn_later(WARMUP, _begin)


@events.test_stopping.add_listener
def _on_test_stopping(environment, **_kw) -> None:
    if _state["measuring"]:
        _state["measuring"] = False
        _state["t1"] = time.time()


def _pct(ordered: list[float], p: float) -> float:
    if not ordered:
        return 0.0
    return ordered[max(0, math.ceil(p / 100 * len(ordered)) - 1)]


def _figures(times: list[float], failures: int, window: float) -> dict:
    ordered = sorted(times)
    return {
        "count": len(ordered),
        "rps": round(len(ordered) / window, 2) if window else 0.0,
        "p50_ms": round(_pct(ordered, 50), 1),
        "p95_ms": round(_pct(ordered, 95), 1),
        "p99_ms": round(_pct(ordered, 99), 1),
        "max_ms": round(ordered[-1], 1) if ordered else 0.0,
        "mean_ms": round(sum(ordered) / len(ordered), 1) if ordered else 0.0,
        "failures": failures,
    }


@events.test_stop.add_listener
def _on_test_stop(environment, **_kw) -> None:
    if not RESULTS:
        return
    if _state["measuring"]:
        _on_test_stopping(environment)
    window = max(0.0, _state["t1"] - _state["t0"])
    requests = {}
    for name, times in _times.items():
        requests[name] = {"method": _methods.get(name, ""), **_figures(times, _failures[name], window)}
    everything = [t for times in _times.values() for t in times]
    out = {
        "window_seconds": round(window, 1),
        "requests": requests,
        "total": _figures(everything, sum(_failures.values()), window),
        "warmup": {"requests": sum(_warmup_counts.values()), "failures": sum(_warmup_failures.values())},
        "errors": {name: dict(c.most_common(5)) for name, c in _errors.items()},
        "variants": {
            f"{name} ({variant})": _figures(times, 0, window) for (name, variant), times in sorted(_variants.items())
        },
        "user_classes": _state["users"],
    }
    Path(RESULTS).write_text(json.dumps(out, indent=2))
