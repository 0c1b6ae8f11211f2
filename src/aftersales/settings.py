"""Django settings, all read from the environment through aftersales.env."""

from __future__ import annotations

from pathlib import Path

from django.core.exceptions import ImproperlyConfigured
from django.utils.translation import gettext_lazy as _

from aftersales.env import database_from_url, env_bool, env_int, env_path, env_str

PACKAGE_DIR = Path(__file__).resolve().parent
DATA_DIR = env_path("AFTERSALES_DATA_DIR", Path.cwd() / "var")

PRODUCTION = env_str("AFTERSALES_ENV", "development") == "production"
DEBUG = env_bool("AFTERSALES_DEBUG", default=not PRODUCTION)

SECRET_KEY = env_str("AFTERSALES_SECRET_KEY")
if not SECRET_KEY:
    if PRODUCTION:
        raise ImproperlyConfigured("AFTERSALES_SECRET_KEY must be set in production")
    SECRET_KEY = "dev-only-insecure-key-do-not-use-in-production"

ALLOWED_HOSTS = [h for h in env_str("AFTERSALES_ALLOWED_HOSTS", "*").split(",") if h]
CSRF_TRUSTED_ORIGINS = [o for o in env_str("AFTERSALES_CSRF_TRUSTED_ORIGINS").split(",") if o]

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "ninja",
    "django_tasks",
    "django_tasks_db",
    "aftersales.core",
    "aftersales.accounts",
    "aftersales.channels",
    "aftersales.catalog",
    "aftersales.cases",
    "aftersales.policies",
    "aftersales.sla",
    "aftersales.notify",
    "aftersales.ledger",
    "aftersales.logistics",
    "aftersales.sync",
    "aftersales.demo",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "aftersales.api.errors.ApiErrorShapeMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "aftersales.urls"
WSGI_APPLICATION = "aftersales.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [PACKAGE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "django.template.context_processors.i18n",
            ],
        },
    },
]

DATABASE_URL = env_str("DATABASE_URL")
if DATABASE_URL:
    DATABASES = {"default": database_from_url(DATABASE_URL)}
else:
    SQLITE_PATH = env_path("AFTERSALES_SQLITE_PATH", DATA_DIR / "aftersales.sqlite3")
    SQLITE_PATH.parent.mkdir(parents=True, exist_ok=True)
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": SQLITE_PATH,
            "OPTIONS": {
                # IMMEDIATE takes the write lock at BEGIN, so two writers queue instead
                # of failing to upgrade a read lock ("database is locked").
                "transaction_mode": "IMMEDIATE",
                "timeout": 20,
                "init_command": (
                    "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON;"
                ),
            },
        }
    }

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
]

LANGUAGE_CODE = env_str("AFTERSALES_LANGUAGE", "zh-hans")
LANGUAGES = [
    ("zh-hans", _("Simplified Chinese")),
    ("en", _("English")),
    ("vi", _("Vietnamese")),
]
LOCALE_PATHS = [PACKAGE_DIR / "locale"]
TIME_ZONE = env_str("AFTERSALES_TIME_ZONE", "Asia/Shanghai")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
# collectstatic target in production; in development WhiteNoise reads the apps' own dirs.
STATIC_ROOT = env_path("AFTERSALES_STATIC_ROOT", DATA_DIR / "static") if PRODUCTION else None
# WhiteNoise serves static files from gunicorn; without collectstatic it reads the app dirs.
WHITENOISE_USE_FINDERS = not PRODUCTION
WHITENOISE_AUTOREFRESH = DEBUG
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
MEDIA_URL = "media/"
MEDIA_ROOT = env_path("AFTERSALES_MEDIA_ROOT", DATA_DIR / "media")

# Evidence uploads: what a customer or agent may attach to a case.
EVIDENCE_MAX_BYTES = env_int("AFTERSALES_EVIDENCE_MAX_BYTES", 10 * 1024 * 1024)
DATA_UPLOAD_MAX_MEMORY_SIZE = EVIDENCE_MAX_BYTES + 1024 * 1024
FILE_UPLOAD_MAX_MEMORY_SIZE = 2 * 1024 * 1024

LOGIN_URL = "/admin/login/"

# Background work (DESIGN §6): Django's Tasks API through the django-tasks backport. The
# database backend by default (SQLite and PostgreSQL alike); RQ on Redis when REDIS_URL is set.
# `aftersales worker` runs the backend's worker plus the sweeps of timers and the outbox.
REDIS_URL = env_str("REDIS_URL")
if REDIS_URL:
    INSTALLED_APPS.append("django_rq")
    RQ_QUEUES = {"default": {"URL": REDIS_URL, "DEFAULT_TIMEOUT": 300}}
    TASKS = {"default": {"BACKEND": "django_tasks_rq.RQBackend", "QUEUES": ["default"]}}
else:
    TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend", "QUEUES": ["default"]}}
# How often the worker sweeps due timers and due outbox rows (seconds).
WORKER_SWEEP_SECONDS = float(env_str("AFTERSALES_WORKER_SWEEP_SECONDS", "1"))
# How long a worker holds a message it is sending; a worker that dies leaves it to another
# after this (longer than any adapter's timeouts).
OUTBOX_LEASE_SECONDS = env_int("AFTERSALES_OUTBOX_LEASE_SECONDS", 300)

# Outgoing email (notifications): SMTP; host and port from the environment.
EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
EMAIL_HOST = env_str("AFTERSALES_SMTP_HOST", "127.0.0.1")
EMAIL_PORT = env_int("AFTERSALES_SMTP_PORT", 25)
EMAIL_HOST_USER = env_str("AFTERSALES_SMTP_USER")
EMAIL_HOST_PASSWORD = env_str("AFTERSALES_SMTP_PASSWORD")
EMAIL_USE_TLS = env_bool("AFTERSALES_SMTP_TLS", default=False)
EMAIL_TIMEOUT = env_int("AFTERSALES_SMTP_TIMEOUT", 10)
DEFAULT_FROM_EMAIL = env_str("AFTERSALES_FROM_EMAIL", "aftersales@localhost")

if PRODUCTION:
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": env_str("AFTERSALES_LOG_LEVEL", "WARNING")},
}
