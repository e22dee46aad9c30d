"""Behind the reverse proxy (issue 14, item 16).

Before: the production settings believed `X-Forwarded-Proto: https` from anyone who could reach
gunicorn; docker-compose published gunicorn's port directly; and its health check got a 301
(the HTTPS redirect). Now X-Forwarded-Proto/-For/-Host count only from `TRUSTED_PROXIES`
(`safeguarding.middleware.TrustedProxyMiddleware`, first, strips them from anyone else), the
client's address behind the proxy is X-Forwarded-For's right-most untrusted entry, compose
publishes only the proxy (deploy/nginx.conf), and /healthz answers 200 over plain HTTP.

There is no Docker engine here: the compose file is checked as YAML, the proxy's configuration as
text, and the settings and middleware through Django's test client, under the production
settings in a subprocess where it matters.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from django.test import Client, RequestFactory, override_settings

from audit.security import client_ip
from safeguarding.settings.base import MIDDLEWARE

ROOT = Path(__file__).resolve().parent.parent
PROXY = "172.30.0.10"


# --- the middleware and the client's address --------------------------------------------------


def test_the_proxy_middleware_runs_first():
    assert MIDDLEWARE[0] == "safeguarding.middleware.TrustedProxyMiddleware"


@override_settings(
    TRUSTED_PROXIES=[PROXY], SECURE_PROXY_SSL_HEADER=("HTTP_X_FORWARDED_PROTO", "https"), SECURE_SSL_REDIRECT=True
)
def test_forwarded_proto_is_believed_from_the_proxy_only(db):
    client = Client()
    # Anyone else claiming HTTPS is still sent to HTTPS: the header was removed.
    forged = client.get("/accounts/login/", REMOTE_ADDR="203.0.113.7", HTTP_X_FORWARDED_PROTO="https")
    assert forged.status_code == 301
    assert forged["Location"].startswith("https://")
    # From the proxy, it is believed.
    proxied = client.get("/accounts/login/", REMOTE_ADDR=PROXY, HTTP_X_FORWARDED_PROTO="https")
    assert proxied.status_code == 200


@override_settings(TRUSTED_PROXIES=[PROXY], USE_X_FORWARDED_HOST=True, ALLOWED_HOSTS=["cases.example.org"])
def test_forwarded_host_is_believed_from_the_proxy_only(db):
    client = Client()
    forged = client.get("/accounts/login/", REMOTE_ADDR="203.0.113.7", HTTP_X_FORWARDED_HOST="cases.example.org")
    assert forged.status_code == 400  # testserver is not an allowed host; the forged header was dropped
    proxied = client.get("/accounts/login/", REMOTE_ADDR=PROXY, HTTP_X_FORWARDED_HOST="cases.example.org")
    assert proxied.status_code == 200


@override_settings(TRUSTED_PROXIES=[PROXY, "10.0.0.0/8"])
def test_client_ip_is_the_right_most_untrusted_address_behind_a_trusted_proxy():
    rf = RequestFactory()
    # A client's own X-Forwarded-For (left of what the proxy added) proves nothing.
    behind = rf.get("/", REMOTE_ADDR=PROXY, HTTP_X_FORWARDED_FOR="1.2.3.4, 198.51.100.20, 10.1.2.3")
    assert client_ip(behind) == "198.51.100.20"
    assert client_ip(rf.get("/", REMOTE_ADDR=PROXY, HTTP_X_FORWARDED_FOR="198.51.100.20")) == "198.51.100.20"
    # Not from a trusted proxy: the header is ignored.
    direct = rf.get("/", REMOTE_ADDR="203.0.113.7", HTTP_X_FORWARDED_FOR="198.51.100.99")
    assert client_ip(direct) == "203.0.113.7"
    # A garbled header or one of only proxies: the proxy's own address, never a guess.
    assert client_ip(rf.get("/", REMOTE_ADDR=PROXY, HTTP_X_FORWARDED_FOR="not-an-address")) == PROXY
    assert client_ip(rf.get("/", REMOTE_ADDR=PROXY, HTTP_X_FORWARDED_FOR="10.9.9.9")) == PROXY


@override_settings(TRUSTED_PROXIES=[PROXY], ANON_RATE_LIMIT="100000/minute")
def test_the_security_log_records_the_client_not_the_proxy_nor_a_forged_address(db):
    from audit.models import SecurityEvent

    client = Client()
    client.get("/nothing/", REMOTE_ADDR=PROXY, HTTP_X_FORWARDED_FOR="198.51.100.20")
    client.get("/nothing/", REMOTE_ADDR="203.0.113.7", HTTP_X_FORWARDED_FOR="198.51.100.21")
    assert sorted(SecurityEvent.objects.values_list("ip_address", flat=True)) == ["198.51.100.20", "203.0.113.7"]


@override_settings(TRUSTED_PROXIES=[PROXY], ANON_RATE_LIMIT="2/minute")
def test_the_anonymous_limit_is_per_client_behind_the_proxy(db):
    client = Client()
    for _ in range(2):
        assert client.get("/accounts/login/", REMOTE_ADDR=PROXY, HTTP_X_FORWARDED_FOR="198.51.100.1").status_code == 200
    assert client.get("/accounts/login/", REMOTE_ADDR=PROXY, HTTP_X_FORWARDED_FOR="198.51.100.1").status_code == 429
    # Another client behind the same proxy is not held back by the first.
    assert client.get("/accounts/login/", REMOTE_ADDR=PROXY, HTTP_X_FORWARDED_FOR="198.51.100.2").status_code == 200


def test_a_bad_trusted_proxy_stops_the_process():
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "PYTEST"))}
    env.update(DJANGO_SETTINGS_MODULE="safeguarding.settings.base", TRUSTED_PROXIES="not-a-network")
    result = subprocess.run(
        [sys.executable, "-c", "import django; django.setup()"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode != 0
    assert "TRUSTED_PROXIES" in result.stderr


# --- under the production settings ----------------------------------------------------------------

_PROBE = """
import json, django
django.setup()
from django.test import Client
from django.test.utils import override_settings, setup_test_environment
setup_test_environment()
# The pages' static files without a collectstatic manifest; nothing else of the settings changes.
override_settings(STORAGES={
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}).enable()
c = Client()
out = {}
r = c.get("/healthz", HTTP_HOST="cases.example.org", REMOTE_ADDR="127.0.0.1")
out["health"] = r.status_code
r = c.get("/healthz", HTTP_HOST="cases.example.org", REMOTE_ADDR="127.0.0.1", HTTP_X_FORWARDED_PROTO="https")
out["health_forged_proto"] = r.status_code
r = c.get("/accounts/login/", HTTP_HOST="cases.example.org", REMOTE_ADDR="203.0.113.7", HTTP_X_FORWARDED_PROTO="https")
out["forged"] = [r.status_code, r.get("Location", "")]
r = c.get("/accounts/login/", HTTP_HOST="cases.example.org", REMOTE_ADDR="%(proxy)s", HTTP_X_FORWARDED_PROTO="https")
out["proxied"] = r.status_code
print(json.dumps(out))
"""


def _test_database_url() -> str:
    """This run's test database (the health check runs SELECT 1 against it)."""
    from django.db import connection

    d = connection.settings_dict
    password = f":{d['PASSWORD']}" if d.get("PASSWORD") else ""
    return f"postgres://{d['USER']}{password}@{d['HOST'] or '127.0.0.1'}:{d['PORT'] or 5432}/{d['NAME']}"


def _production_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "PYTEST"))}
    env.update(
        DJANGO_SETTINGS_MODULE="safeguarding.settings.production",
        DEBUG="false",
        SECRET_KEY=secrets.token_urlsafe(48),
        DATABASE_URL=_test_database_url(),
        ALLOWED_HOSTS="cases.example.org",
        TRUSTED_PROXIES=PROXY,
        **extra,
    )
    for key in ("SECURE_SSL_REDIRECT", "SECURE_HSTS_SECONDS"):
        env.pop(key, None)
    return env


@pytest.mark.django_db
def test_production_settings_behind_the_proxy_and_the_health_check():
    result = subprocess.run(  # noqa: S603 - fixed arguments
        [sys.executable, "-c", _PROBE % {"proxy": PROXY}],
        cwd=ROOT,
        env=_production_env(),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    out = json.loads(result.stdout.strip().splitlines()[-1])
    assert out["health"] == 200  # plain HTTP from inside the container: no redirect
    assert out["health_forged_proto"] == 200
    assert out["forged"][0] == 301 and out["forged"][1].startswith("https://")  # the header was not believed
    assert out["proxied"] == 200


# --- docker-compose and the proxy's configuration ---------------------------------------------


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())


def test_only_the_proxy_publishes_a_port(compose):
    services = compose["services"]
    published = {name for name, service in services.items() if service.get("ports")}
    assert published == {"proxy"}
    assert {str(p).split(":")[-1] for p in services["proxy"]["ports"]} == {"80", "443"}
    assert "ports" not in services["web"]


def test_the_proxy_is_an_official_image_with_its_configuration_in_the_repository(compose):
    proxy = compose["services"]["proxy"]
    assert re.fullmatch(r"nginx:[\w.\-]+", proxy["image"])  # the official image, a pinned tag
    mounts = [str(v).split(":") for v in proxy["volumes"]]
    sources = {m[0] for m in mounts}
    assert "./deploy/nginx.conf" in sources
    assert (ROOT / "deploy" / "nginx.conf").is_file()
    assert proxy["depends_on"]["web"]["condition"] == "service_healthy"


def test_web_trusts_exactly_the_proxys_address(compose):
    services = compose["services"]
    env = compose["x-app"]["environment"]
    networks = services["proxy"]["networks"]
    edge = networks["edge"]
    assert env["TRUSTED_PROXIES"] == edge["ipv4_address"]
    assert env["FORWARDED_ALLOW_IPS"] == edge["ipv4_address"]  # gunicorn's own check agrees
    subnet = compose["networks"]["edge"]["ipam"]["config"][0]["subnet"]
    import ipaddress

    assert ipaddress.ip_address(edge["ipv4_address"]) in ipaddress.ip_network(subnet)
    # The database and Redis are on an internal network the proxy is not on.
    assert compose["networks"]["backend"]["internal"] is True
    assert "backend" not in services["proxy"]["networks"]
    assert set(services["db"]["networks"]) == {"backend"}


def test_the_web_health_check_asks_for_the_health_page_as_an_allowed_host(compose):
    check = " ".join(compose["services"]["web"]["healthcheck"]["test"])
    assert "/healthz" in check
    assert "ALLOWED_HOSTS" in check  # sends a Host the app accepts, whatever ALLOWED_HOSTS is


def test_the_proxy_sets_the_forwarded_headers_itself():
    conf = (ROOT / "deploy" / "nginx.conf").read_text()
    # Overwritten, never appended to what the client sent.
    assert re.search(r"proxy_set_header\s+X-Forwarded-For\s+\$remote_addr;", conf)
    assert re.search(r"proxy_set_header\s+X-Forwarded-Proto\s+\$scheme;", conf)
    assert re.search(r"proxy_set_header\s+Host\s+\$host;", conf)
    assert re.search(r"proxy_pass\s+http://web:8000;", conf)
    assert re.search(r"listen\s+443\s+ssl", conf)
    assert re.search(r"return\s+301\s+https://", conf)  # plain HTTP is only a redirect
    assert "ssl_protocols TLSv1.2 TLSv1.3;" in conf
