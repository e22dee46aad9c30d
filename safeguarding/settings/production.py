"""Production settings: DEBUG off, secrets and hosts from the environment, HTTPS only."""

from django.core.exceptions import ImproperlyConfigured

from .base import *  # noqa: F403
from .base import DATABASES, DEBUG, MIDDLEWARE, SECRET_KEY, env_bool, env_int

if DEBUG:
    raise ImproperlyConfigured("DEBUG must be false in production (set DEBUG=false).")
if len(SECRET_KEY) < 50:
    raise ImproperlyConfigured("SECRET_KEY must be set to a random value of 50+ characters.")
if DATABASES["default"]["ENGINE"] != "django.db.backends.postgresql":
    raise ImproperlyConfigured("Production runs on PostgreSQL: set DATABASE_URL=postgres://...")

SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", True)
# TLS ends at the reverse proxy (deploy/nginx.conf), which says so in X-Forwarded-Proto. Believed
# only from TRUSTED_PROXIES: safeguarding.middleware.TrustedProxyMiddleware, first in MIDDLEWARE,
# removes it (and X-Forwarded-For/-Host) from anyone else, so a client reaching gunicorn some
# other way cannot pass as HTTPS. gunicorn's own --forwarded-allow-ips (FORWARDED_ALLOW_IPS) must
# name the same proxies.
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
if MIDDLEWARE[0] != "safeguarding.middleware.TrustedProxyMiddleware":
    raise ImproperlyConfigured("TrustedProxyMiddleware must run first, before anything reads X-Forwarded-*.")
# The liveness probe answers over plain HTTP: docker-compose's health check and a load balancer's
# ask gunicorn directly, inside the network, and a redirect to HTTPS would fail them. It shows
# nothing but {"status": "ok"}.
SECURE_REDIRECT_EXEMPT = [r"^healthz$"]
SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 31536000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = True
SECURE_HSTS_PRELOAD = True
# Always true in a deployment. Only a benchmark on loopback without TLS (bench/load.py) turns
# them off, since an HTTP client will not send a Secure cookie over plain HTTP.
SESSION_COOKIE_SECURE = env_bool("SESSION_COOKIE_SECURE", True)
CSRF_COOKIE_SECURE = env_bool("CSRF_COOKIE_SECURE", True)
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
}
