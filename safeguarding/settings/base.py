"""Settings shared by every environment.

Every value comes from the environment with a safe development default. With nothing
set, the embedded default serves: SQLite and Celery tasks run in-process.
"""

from __future__ import annotations

import ipaddress
import re
from datetime import timedelta
from pathlib import Path

import dj_database_url
from celery.schedules import crontab
from django.core.exceptions import ImproperlyConfigured

from .env import env_bool, env_int, env_list, env_str

BASE_DIR = Path(__file__).resolve().parent.parent.parent

DEBUG = env_bool("DEBUG", True)
# The development key is only ever used with DEBUG on; production.py refuses to start without one.
SECRET_KEY = env_str("SECRET_KEY") or ("insecure-development-key-" + "x" * 40 if DEBUG else "")
if not SECRET_KEY:
    raise ImproperlyConfigured("SECRET_KEY must be set when DEBUG is off.")
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["127.0.0.1", "localhost", "testserver"])
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.postgres",
    "django.forms",
    "rest_framework",
    "knox",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_celery_beat",
    "django_htmx",
    "simple_history",
    "axes",
    "django_otp",
    "django_otp.plugins.otp_totp",
    "csp",
    "guardian",
    "cases",
    "referrals",
    "visits",
    "escalation",
    "audit",
    "accounts",
    "core",
]

MIDDLEWARE = [
    # First: X-Forwarded-* from anyone but a trusted proxy are removed before anything reads them.
    "safeguarding.middleware.TrustedProxyMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "csp.middleware.CSPMiddleware",
    "safeguarding.middleware.NoStoreMiddleware",
    "audit.context.AuditRouteMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django_otp.middleware.OTPMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    # Before the session and second-factor checks, so their refusals are logged too.
    "audit.middleware.RefusedAccessMiddleware",
    # A page about one family that showed it leaves a read row, whatever its view wrote (item 12).
    "audit.middleware.FamilyPageReadMiddleware",
    # Inside the refusal log, so its 429s are logged (aggregated); after authentication.
    "safeguarding.middleware.AnonymousRateLimitMiddleware",
    "accounts.middleware.SessionLifetimeMiddleware",
    "accounts.middleware.TwoFactorMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "simple_history.middleware.HistoryRequestMiddleware",
    # `Idempotency-Key` on API writes: after authentication and throttles, around the view only.
    "core.middleware.IdempotencyMiddleware",
    # Last, as django-axes asks: it turns a locked-out sign-in into the lock-out page.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "safeguarding.urls"
# Widgets render from the project's templates too (templates/govuk/widgets/ for the GOV.UK date input).
FORM_RENDERER = "django.forms.renderers.TemplatesSetting"
WSGI_APPLICATION = "safeguarding.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]


def tune_database(db: dict) -> dict:
    """Connection settings for PostgreSQL: no parallel query workers by default. The system's
    queries are short (a page, a chunk of the checks), and on a small machine under load a
    parallel plan's workers start up and compete with the other requests for the same cores: the
    caseload's family query took 20 ms with them and 13 ms without (a bitmap scan instead of a
    parallel sequential scan). A bigger database server can allow some (DATABASE_PARALLEL_WORKERS=2).

    The setting is sent with the connection (libpq `options`), added to any options the URL gives.
    DATABASE_PARALLEL_WORKERS=server sends nothing and leaves the server's own setting: for a
    connection pooler that refuses startup options (PgBouncer does by default), set
    `max_parallel_workers_per_gather` on the server or the role instead."""
    if db["ENGINE"] != "django.db.backends.postgresql":
        return db
    raw = env_str("DATABASE_PARALLEL_WORKERS").strip() or "0"
    if raw == "server":
        return db
    if not raw.isdigit():
        raise ImproperlyConfigured(f"DATABASE_PARALLEL_WORKERS={raw!r} is not a number of workers or 'server'.")
    options = db.setdefault("OPTIONS", {})
    given = options.get("options", "")
    options["options"] = f"{given} -c max_parallel_workers_per_gather={int(raw)}".strip()
    return db


DATABASES = {
    "default": tune_database(
        dj_database_url.parse(
            env_str("DATABASE_URL") or f"sqlite:///{BASE_DIR / 'db.sqlite3'}",
            conn_max_age=env_int("DATABASE_CONN_MAX_AGE", 60),
            conn_health_checks=True,
        )
    )
}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
# axes.W006 warns that a lock-out not keyed on the IP address can be dodged by rotating user
# agents or cookies. Ours is keyed on the username, which neither dodges; keying on the address
# too would let one person's typos lock a whole council office behind one NAT address.
SILENCED_SYSTEM_CHECKS = ["axes.W006"]
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # The embedded demo database cannot express "one open flag per family + rule (+ no member)";
    # the checks service keeps that invariant itself, and PostgreSQL enforces it in production.
    SILENCED_SYSTEM_CHECKS += ["models.W047"]
    # Nor covering indexes: there the index keeps its key columns only, which is all the demo needs.
    SILENCED_SYSTEM_CHECKS += ["models.W040"]

AUTH_USER_MODEL = "cases.User"
AUTHENTICATION_BACKENDS = [
    # First, so a locked-out username is refused before its password is even checked.
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
    # Per-object grants for restricted records (DESIGN 6); `cases.access` reads them in its query.
    "guardian.backends.ObjectPermissionBackend",
]
# django-guardian: no anonymous user row (it would appear in staff lists and could be granted a
# record); anonymous requests never reach a record anyway.
ANONYMOUS_USER_NAME = None
GUARDIAN_RAISE_403 = False
GUARDIAN_RENDER_403 = False
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {
        "NAME": "django.contrib.auth.password_validation.MinimumLengthValidator",
        "OPTIONS": {"min_length": 12},
    },
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"

LANGUAGE_CODE = "en-gb"
TIME_ZONE = "Europe/London"
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]

# --- Accounts and sessions (issue 6; OWASP ASVS level 2, V2 and V3) -----------------------
# A session ends after 30 minutes idle and 12 hours in all, whatever the activity
# (accounts.middleware.SessionLifetimeMiddleware); the cookie and the server-side record end
# with the absolute limit.
SESSION_IDLE_TIMEOUT = env_int("SESSION_IDLE_TIMEOUT", 30 * 60)
SESSION_ABSOLUTE_TIMEOUT = env_int("SESSION_ABSOLUTE_TIMEOUT", 12 * 60 * 60)
SESSION_COOKIE_AGE = SESSION_ABSOLUTE_TIMEOUT
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
SESSION_EXPIRE_AT_BROWSER_CLOSE = True
CSRF_COOKIE_HTTPONLY = True  # forms carry the token; app.js reads it from the page, never the cookie
CSRF_COOKIE_SAMESITE = "Lax"
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"

# Lock-out (django-axes): 10 failures for one username lock it for 30 minutes, whether or not
# the account exists, so the response never tells an attacker which usernames are real.
AXES_FAILURE_LIMIT = env_int("AXES_FAILURE_LIMIT", 10)
AXES_LOCKOUT_PARAMETERS = ["username"]
AXES_COOLOFF_TIME = env_int("AXES_COOLOFF_MINUTES", 30) / 60  # hours
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_TEMPLATE = "registration/locked_out.html"
AXES_ENABLE_ACCESS_FAILURE_LOG = True
AXES_VERBOSE = False
AXES_SENSITIVE_PARAMETERS = ["password", "otp_token", "token"]

# Second factor (django-otp, TOTP): required for these roles, available to everyone.
TWO_FACTOR_REQUIRED_ROLES = env_list("TWO_FACTOR_REQUIRED_ROLES", ["manager", "admin"])
OTP_TOTP_ISSUER = "Safeguarding case record"

# Content Security Policy (django-csp): no inline script or style, nothing from elsewhere.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'"],
        "img-src": ["'self'", "data:"],
        "font-src": ["'self'"],
        "connect-src": ["'self'"],
        "object-src": ["'none'"],
        "base-uri": ["'none'"],
        "frame-ancestors": ["'none'"],
        "form-action": ["'self'"],
    }
}

# Change history (django-simple-history): previous values are kept; nothing is reverted from the admin.
SIMPLE_HISTORY_REVERT_DISABLED = True

# --- Cache: Redis when REDIS_URL is set (shared by every web process), else in this process. ---
CACHES = {
    "default": (
        {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": env_str("REDIS_URL")}
        if env_str("REDIS_URL")
        else {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}
    )
}

# --- Sharing (issue 14, item 8) ----------------------------------------------------------
# The longest a share may run, in days, from its start (or from today, when renewed): sharing is
# for a purpose and reviewed, never open-ended; renewal sets a new last day within the same limit.
SHARE_MAX_DAYS = env_int("SHARE_MAX_DAYS", 365)
if SHARE_MAX_DAYS < 1:
    raise ImproperlyConfigured(f"SHARE_MAX_DAYS={SHARE_MAX_DAYS} must be at least 1.")

# --- Behind the reverse proxy, anonymous callers, the security log (issue 14, items 15, 16) ---
# The proxies whose X-Forwarded-Proto/-For/-Host are believed: addresses or networks, e.g.
# TRUSTED_PROXIES=172.16.0.0/12 for docker-compose's network. From anyone else those headers are
# removed (safeguarding.middleware.TrustedProxyMiddleware), and the client's address is REMOTE_ADDR.
TRUSTED_PROXIES = env_list("TRUSTED_PROXIES", [])
for _proxy in TRUSTED_PROXIES:
    try:
        ipaddress.ip_network(_proxy, strict=False)
    except ValueError as exc:
        raise ImproperlyConfigured(f"TRUSTED_PROXIES: {_proxy!r} is not an address or network.") from exc
# Anonymous requests per client address, pages and API alike; over it, 429 with Retry-After.
# Generous, as a council office signs in from behind one address; empty turns the limit off.
ANON_RATE_LIMIT = env_str("ANON_RATE_LIMIT", "300/minute")
if ANON_RATE_LIMIT.strip() and not re.fullmatch(r"\s*\d+\s*/\s*(second|minute|hour|day)\s*", ANON_RATE_LIMIT):
    raise ImproperlyConfigured(f"ANON_RATE_LIMIT={ANON_RATE_LIMIT!r} is not a rate such as 300/minute.")
# Failed sign-ins from one address (each a security event naming the username typed): tighter
# than ANON_RATE_LIMIT, still room for a council office behind one address at nine o'clock.
SIGN_IN_RATE_LIMIT = env_str("SIGN_IN_RATE_LIMIT", "30/minute")
if SIGN_IN_RATE_LIMIT.strip() and not re.fullmatch(r"\s*\d+\s*/\s*(second|minute|hour|day)\s*", SIGN_IN_RATE_LIMIT):
    raise ImproperlyConfigured(f"SIGN_IN_RATE_LIMIT={SIGN_IN_RATE_LIMIT!r} is not a rate such as 30/minute.")
# An anonymous refusal repeated (same kind, address and status) within this many seconds is one
# security log row plus a count (audit.security); 0 writes every one.
SECURITY_REPEAT_WINDOW = env_int("SECURITY_REPEAT_WINDOW", 60)

# --- Celery -----------------------------------------------------------------------------
# With no REDIS_URL, tasks run in-process (eager) so `make run` needs nothing but Python.
REDIS_URL = env_str("REDIS_URL")
CELERY_BROKER_URL = REDIS_URL or "memory://"
CELERY_RESULT_BACKEND = REDIS_URL or "cache+memory://"
CELERY_TASK_ALWAYS_EAGER = env_bool("CELERY_TASK_ALWAYS_EAGER", not REDIS_URL)
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_TASK_DEFAULT_QUEUE = env_str("CELERY_TASK_DEFAULT_QUEUE", "celery")
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TIMEZONE = TIME_ZONE
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"
# Installed into the database schedule when beat starts (django-celery-beat), beside the checks'.
CELERY_BEAT_SCHEDULE = {
    # A share that lapses on its last day ends its agency's lead role the next morning, before the
    # nightly checks (a share ended by a person does so at once: cases.services.share_end).
    "cases.release_lapsed_share_leads": {
        "task": "cases.release_lapsed_share_leads",
        "schedule": crontab(hour=0, minute=5),
    },
    "core.purge_idempotency_keys": {
        "task": "core.purge_idempotency_keys",
        "schedule": crontab(minute=17),
    },
}

# --- REST framework --------------------------------------------------------------------
# How long an API write's `Idempotency-Key` and its first answer are kept (core.middleware).
IDEMPOTENCY_KEY_TTL_HOURS = env_int("IDEMPOTENCY_KEY_TTL_HOURS", 24)
if IDEMPOTENCY_KEY_TTL_HOURS < 1:
    raise ImproperlyConfigured("IDEMPOTENCY_KEY_TTL_HOURS must be at least 1.")
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        # django-rest-knox, hashed and expiring, behind the same `Authorization: Token <key>`.
        "accounts.authentication.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    # Per token (per user): a runaway partner sync slows itself, not everyone else.
    "DEFAULT_THROTTLE_CLASSES": ["cases.api.throttling.PerUserRateThrottle", "cases.api.throttling.AnonRateThrottle"],
    "DEFAULT_THROTTLE_RATES": {
        "user": env_str("API_RATE_LIMIT", "1200/minute"),
        "anon": env_str("API_ANON_RATE_LIMIT", "60/minute"),
    },
    "DEFAULT_PAGINATION_CLASS": "cases.api.pagination.StandardPagination",
    # django-filter, skipped when a request has no query parameter but the page's.
    "DEFAULT_FILTER_BACKENDS": ["cases.api.filters.FilterBackend"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "cases.api.errors.exception_handler",
    "TEST_REQUEST_DEFAULT_FORMAT": "json",
    # The API is JSON only (DESIGN 5); the parser refuses absurd nesting and size with a 400.
    "DEFAULT_PARSER_CLASSES": ["cases.api.parsers.SafeJSONParser"],
    "DEFAULT_RENDERER_CLASSES": [
        "rest_framework.renderers.JSONRenderer",
        # No HTML forms (they list names with no read row); partners get JSON only (negotiation).
        "cases.api.rendering.FormlessBrowsableAPIRenderer",
    ],
    "DEFAULT_CONTENT_NEGOTIATION_CLASS": "cases.api.rendering.PartnerJSONOnlyNegotiation",
}
# API tokens (django-rest-knox): only a hash is stored, the key is shown once, and it expires.
# Partner systems hold theirs for a year by default; reissue with `manage.py revoke_token --reissue`.
API_TOKEN_TTL_DAYS = env_int("API_TOKEN_TTL_DAYS", 365)
if API_TOKEN_TTL_DAYS < 1:
    raise ImproperlyConfigured("API_TOKEN_TTL_DAYS must be a whole number of days, at least 1.")
REST_KNOX = {
    "TOKEN_TTL": timedelta(days=API_TOKEN_TTL_DAYS),
    "AUTH_HEADER_PREFIX": "Token",  # the v1 contract (DESIGN 5)
    "AUTO_REFRESH": False,
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Safeguarding case management — partner API",
    "DESCRIPTION": (
        "Version 1 of the partner API. Partners see only the families shared with their agency; "
        "anything else is 404. Authenticate with `Authorization: Token <key>`."
    ),
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    # Swagger UI served from the project (drf-spectacular-sidecar), never a CDN.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "cases.api.schema.add_error_responses",
        "core.schema.add_idempotency_key_header",
    ],
    "ENUM_NAME_OVERRIDES": {
        "VisitStatusEnum": "visits.models.VisitStatus",
        "AppointmentStatusEnum": "visits.models.AppointmentStatus",
        "FamilyStatusEnum": "cases.models.FamilyStatus",
        "UserRoleEnum": "cases.models.Role",
        "MemberRoleEnum": "cases.models.MemberRole",
    },
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "INFO")},
    "loggers": {
        "django.db.backends": {"level": "WARNING"},
        # Sign-ins, sign-outs, lock-outs and refused requests (audit.security); usernames, never secrets.
        "security": {"level": "INFO"},
        "axes": {"level": "WARNING"},  # its successes are in the security log already
    },
}

# The demo's own name: the crown and GDS Transport belong to GOV.UK only.
SERVICE_NAME = "Safeguarding case record"
