"""Test settings: always PostgreSQL (the production engine), fast hashing, eager Celery."""

import dj_database_url

from .base import *  # noqa: F403
from .base import DATABASES, env_str, tune_database

DATABASES["default"] = tune_database(
    dj_database_url.parse(env_str("DATABASE_URL") or "postgres://postgres@127.0.0.1:5432/safeguarding", conn_max_age=0)
)
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
CELERY_TASK_ALWAYS_EAGER = True
CELERY_BROKER_URL = "memory://"
CELERY_RESULT_BACKEND = "cache+memory://"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
