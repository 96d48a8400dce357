"""Portal settings. Everything that differs between machines comes from the environment
(or a `.env` file beside manage.py), read with django-environ."""

from pathlib import Path

import environ
from django.utils.csp import CSP
from django.utils.translation import gettext_lazy as _

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env(
    DEBUG=(bool, False),
    ALLOWED_HOSTS=(list, ["127.0.0.1", "localhost"]),
    PORTAL_DEFAULT_REGION=(str, "US"),
    PORTAL_ENCRYPTION_KEY=(list, []),
    REDIS_URL=(str, ""),
    TASKS_BACKEND=(str, "django_tasks_db.DatabaseBackend"),
)
environ.Env.read_env(BASE_DIR / ".env", overwrite=False)

DEBUG = env("DEBUG")
SECRET_KEY = env("SECRET_KEY", default="dev-only-insecure-key-change-me" if DEBUG else None)
ALLOWED_HOSTS = env("ALLOWED_HOSTS")
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "rest_framework",
    "rest_framework.authtoken",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    # Before django_tasks_db: its `manage.py db_worker` replaces the library's (--threads).
    "subscriptions",
    "django_tasks_db",
]

# Browser* skip themselves on /api/v1/ and /webhooks/ (portal/middleware.py).
MIDDLEWARE = [
    "portal.observability.RequestIdMiddleware",
    "subscriptions.reporting.metrics.RequestTimingMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "portal.middleware.BrowserLocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "portal.middleware.BrowserMessageMiddleware",
    "portal.middleware.BrowserXFrameOptionsMiddleware",
    "portal.middleware.BrowserContentSecurityPolicyMiddleware",
]

# security.W002 looks for Django's own XFrameOptionsMiddleware by name; the portal's subclass
# (portal/middleware.py) sends X-Frame-Options: DENY on every page and skips it only on the
# machine-only /api/v1/ and /webhooks/ answers (tests/portal/test_middleware.py).
SILENCED_SYSTEM_CHECKS = ["security.W002"]

ROOT_URLCONF = "portal.urls"
WSGI_APPLICATION = "portal.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.template.context_processors.csp",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

DATABASES = {"default": env.db("DATABASE_URL", default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}")}
DATABASES["default"].setdefault("CONN_MAX_AGE", env.int("CONN_MAX_AGE", default=0))
if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql" and env.bool(
    "DATABASE_PREPARED_STATEMENTS", default=True
):
    # Parameters bound by the server, and statements prepared once they repeat (psycopg's
    # prepare_threshold): the hot paths send the same dozen statements on every request.
    # Not behind a transaction-pooling PgBouncer older than 1.21 (docs/operations.md).
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {"server_side_binding": True, "prepare_threshold": 5}
    )
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # WAL + a busy timeout let the web process and the worker share the file.
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {"timeout": 20, "transaction_mode": "IMMEDIATE", "init_command": "PRAGMA journal_mode=WAL;"}
    )

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

REDIS_URL = env("REDIS_URL")
if REDIS_URL:
    CACHES = {
        "default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL}
    }
else:
    # Shared by every web process and worker: one-time codes must never live in one
    # process's memory. (Rate limits and throttles count in subscriptions/common/limits.py: the
    # database cache's incr is not atomic.)
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.db.DatabaseCache",
            "LOCATION": "portal_cache",
            # Django's default (300 entries, then a third culled) would throw
            # away live one-time codes under load;
            # expired rows are still removed whenever the table is full.
            "OPTIONS": {"MAX_ENTRIES": 1_000_000},
        }
    }

# Queues by urgency (subscriptions/common/queueing.py; README "Workers and queues"): texts to
# people, provider syncs ("default", the first release's queue), bulk work (imports,
# reconciliation). One `manage.py db_worker --queue-name NAME` (or more) serves each.
TASK_QUEUES = ["people", "default", "bulk"]
TASKS = {"default": {"BACKEND": env("TASKS_BACKEND"), "QUEUES": TASK_QUEUES}}
# Provider delivery (subscriptions/delivery/): attempts, backoff, a worker's lease on a row.
PORTAL_DELIVERY_MAX_ATTEMPTS = env.int("PORTAL_DELIVERY_MAX_ATTEMPTS", default=8)
PORTAL_DELIVERY_BACKOFF_SECONDS = env.float("PORTAL_DELIVERY_BACKOFF_SECONDS", default=30)
PORTAL_DELIVERY_BACKOFF_MAX_SECONDS = env.float("PORTAL_DELIVERY_BACKOFF_MAX_SECONDS", default=3600)
PORTAL_DELIVERY_LEASE_SECONDS = env.float("PORTAL_DELIVERY_LEASE_SECONDS", default=120)
PORTAL_DELIVERY_REDRIVE_SECONDS = env.float("PORTAL_DELIVERY_REDRIVE_SECONDS", default=600)
# Provider calls one worker process keeps in flight at most: the tasks its threads run
# (`db_worker --threads`) share them, and a task delivering many rows (an import's, a
# reconciliation's) overlaps that many calls (subscriptions/delivery/overlap.py).
PORTAL_DELIVERY_CALLS_PER_WORKER = env.int("PORTAL_DELIVERY_CALLS_PER_WORKER", default=4)
# Outbound webhooks (subscriptions/webhooks/; docs/webhooks.md).
PORTAL_WEBHOOKS_ALLOW_PRIVATE = env.bool("PORTAL_WEBHOOKS_ALLOW_PRIVATE", default=False)
PORTAL_WEBHOOKS_MAX_ATTEMPTS = env.int("PORTAL_WEBHOOKS_MAX_ATTEMPTS", default=15)
PORTAL_WEBHOOKS_BACKOFF_SECONDS = env.float("PORTAL_WEBHOOKS_BACKOFF_SECONDS", default=30)
PORTAL_WEBHOOKS_BACKOFF_MAX_SECONDS = env.float(
    "PORTAL_WEBHOOKS_BACKOFF_MAX_SECONDS", default=4 * 3600
)
PORTAL_WEBHOOKS_TIMEOUT_SECONDS = env.float("PORTAL_WEBHOOKS_TIMEOUT_SECONDS", default=5)
PORTAL_WEBHOOKS_LEASE_SECONDS = env.float("PORTAL_WEBHOOKS_LEASE_SECONDS", default=60)
PORTAL_WEBHOOKS_REDRIVE_SECONDS = env.float("PORTAL_WEBHOOKS_REDRIVE_SECONDS", default=600)
PORTAL_WEBHOOKS_DISABLE_AFTER_HOURS = env.float("PORTAL_WEBHOOKS_DISABLE_AFTER_HOURS", default=24)
PORTAL_WEBHOOKS_ROTATION_GRACE_HOURS = env.float("PORTAL_WEBHOOKS_ROTATION_GRACE_HOURS", default=24)
# A drain task sends an endpoint's due deliveries in batches: up to BATCH lane heads at a time,
# THREADS requests in flight per worker process, at most DRAINS tasks of one endpoint queued
# or running for one backlog; a drain gives its worker back after DRAIN_SECONDS.
PORTAL_WEBHOOKS_THREADS = env.int("PORTAL_WEBHOOKS_THREADS", default=8)
PORTAL_WEBHOOKS_BATCH = env.int("PORTAL_WEBHOOKS_BATCH", default=100)
PORTAL_WEBHOOKS_DRAINS = env.int("PORTAL_WEBHOOKS_DRAINS", default=4)
PORTAL_WEBHOOKS_DRAIN_SECONDS = env.float("PORTAL_WEBHOOKS_DRAIN_SECONDS", default=10)

# Mail to staff (ADMINS: e.g. a webhook endpoint disabled after a day of failures), through
# Django's MAILERS (without it, every mail warns that Django 2028 has no default mailer).
ADMINS = env.list("ADMINS", default=[])
SERVER_EMAIL = env("SERVER_EMAIL", default="portal@localhost")
MAILERS = {
    "default": {
        "BACKEND": "django.core.mail.backends.smtp.EmailBackend",
        "OPTIONS": {
            "host": env("EMAIL_HOST", default="localhost"),
            "port": env.int("EMAIL_PORT", default=25),
            "timeout": 10,
        },
    }
}

AUTHENTICATION_BACKENDS = [
    "django.contrib.auth.backends.ModelBackend",
    # Lets Marketing export consent evidence when PORTAL_MARKETING_EXPORTS_EVIDENCE is on.
    "subscriptions.reporting.access.EvidenceAccessBackend",
]

# Reconciliation with the providers (subscriptions/reconciliation/): SFMC lookups in flight
# at once, opt-outs re-sent per second to a provider without a read API, retries of a
# lookup after 429/5xx, a worker's lease on a run (renewed each batch).
PORTAL_RECONCILE_CONCURRENCY = env.int("PORTAL_RECONCILE_CONCURRENCY", default=4)
PORTAL_RECONCILE_RESEND_PER_SECOND = env.float("PORTAL_RECONCILE_RESEND_PER_SECOND", default=5)
PORTAL_RECONCILE_MAX_RETRIES = env.int("PORTAL_RECONCILE_MAX_RETRIES", default=8)
PORTAL_RECONCILE_LEASE_SECONDS = env.float("PORTAL_RECONCILE_LEASE_SECONDS", default=300)

# Set-based imports (subscriptions/imports/setbased.py): a running import whose runner has
# committed no chunk for this long may be resumed by another.
PORTAL_IMPORT_LEASE_SECONDS = env.float("PORTAL_IMPORT_LEASE_SECONDS", default=120)
# How an import chunk's foreign keys are checked: "setwise" (one locking check per parent
# table; falls back to "immediate" when the role may not set session_replication_role),
# "immediate" (row by row) or "deferred" (at commit)
# (docs/adr/0007-import-foreign-keys.md).
PORTAL_IMPORT_FK_CHECKS = env.str("PORTAL_IMPORT_FK_CHECKS", default="setwise")
# Connections that write one PostgreSQL import at once, each its own share of the numbers
# (a hash of the phone), so one import uses more than one of the database's cores.
PORTAL_IMPORT_WRITERS = env.int("PORTAL_IMPORT_WRITERS", default=2)

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en"
LANGUAGES = [("en", _("English")), ("es", _("Spanish"))]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}
MEDIA_ROOT = env.path("MEDIA_ROOT", default=str(BASE_DIR / "media"))

SESSION_COOKIE_AGE = env.int("SESSION_COOKIE_AGE", default=60 * 60 * 2)
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SECURE = env.bool("SECURE_COOKIES", default=not DEBUG)
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"
# HTTPS: on by default in production (DEBUG off). Behind a TLS-terminating proxy set
# SECURE_PROXY_SSL_HEADER=HTTP_X_FORWARDED_PROTO so Django knows the request was secure.
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=not DEBUG)
SECURE_REDIRECT_EXEMPT = [r"^healthz$"]
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=0 if DEBUG else 31536000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", default=True)
SECURE_HSTS_PRELOAD = env.bool("SECURE_HSTS_PRELOAD", default=True)
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
if env.str("SECURE_PROXY_SSL_HEADER", default=""):
    SECURE_PROXY_SSL_HEADER = (env.str("SECURE_PROXY_SSL_HEADER"), "https")
SECURE_CSP = {
    "default-src": [CSP.SELF],
    "script-src": [CSP.SELF, CSP.NONCE],
    "style-src": [CSP.SELF, CSP.NONCE],
    # https: for the brands' logos on the preferences page (ShortCode.logo_url).
    "img-src": [CSP.SELF, "data:", "https:"],
    "frame-ancestors": [CSP.NONE],
    "form-action": [CSP.SELF],
    "base-uri": [CSP.SELF],
}

# How many reverse proxies you run in front of the portal, each appending to
# X-Forwarded-For (subscriptions/common/client.py): history rows, rate limits and the API's
# throttles take the client address from there. 0 = no proxy: the socket's peer.
PORTAL_PROXY_HOPS = env.int("PORTAL_PROXY_HOPS", default=0)

REST_FRAMEWORK = {
    "NUM_PROXIES": PORTAL_PROXY_HOPS or None,
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "subscriptions.api.authentication.CachedTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_THROTTLE_CLASSES": ["subscriptions.api.throttling.TokenRateThrottle"],
    "DEFAULT_THROTTLE_RATES": {"token": env("API_THROTTLE_RATE", default="1200/min")},
    "EXCEPTION_HANDLER": "subscriptions.api.exceptions.exception_handler",
    # Bounded in size and depth (subscriptions/api/parsers.py).
    "DEFAULT_PARSER_CLASSES": [
        "subscriptions.api.parsers.BoundedJSONParser",
        "rest_framework.parsers.FormParser",
        "rest_framework.parsers.MultiPartParser",
    ],
    # ASCII JSON (\uXXXX escapes): an error that echoes client input containing a lone
    # surrogate must still encode, instead of failing as a 500.
    "UNICODE_JSON": False,
    "DEFAULT_SCHEMA_CLASS": "subscriptions.api.schema.PortalAutoSchema",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "SMS consent portal API",
    "DESCRIPTION": (
        "The system of record for SMS consent. Authenticate with `Authorization: Token <key>`; "
        "what a token may do follows its user's Django permissions. Errors are "
        '`{"detail", "code"}` (field errors as DRF gives them). POSTs that change consent '
        "accept an `Idempotency-Key` header: the same key and body within 24 h returns the "
        "first answer and changes nothing; the same key with another body answers 422."
    ),
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "COMPONENT_SPLIT_REQUEST": True,
    "ENUM_NAME_OVERRIDES": {
        "SubscriptionStatusEnum": "subscriptions.models.Status",
        "EventSourceEnum": "subscriptions.models.Source",
        "SyncStatusEnum": "subscriptions.models.SyncStatus",
        "RevocationStatusEnum": "subscriptions.models.RevocationStatus",
        "WebhookDeliveryStatusEnum": "subscriptions.models.DeliveryStatus",
        "ReconciliationStatusEnum": "subscriptions.models.RunStatus",
        "HeldStateEnum": "subscriptions.models.Held",
    },
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
}

# Portal-specific
PORTAL_DEFAULT_REGION = env("PORTAL_DEFAULT_REGION")
PORTAL_ENCRYPTION_KEYS = env("PORTAL_ENCRYPTION_KEY")
PORTAL_METRICS_TOKEN = env.str("PORTAL_METRICS_TOKEN", default="")
PORTAL_CALL_LOG_RETENTION_DAYS = env.int("PORTAL_CALL_LOG_RETENTION_DAYS", default=90)
# A running import whose worker gave no sign of life for this long is marked failed.
PORTAL_IMPORT_STALL_SECONDS = env.int("PORTAL_IMPORT_STALL_SECONDS", default=900)
# Uploaded import files of finished imports are deleted after this many days.
PORTAL_IMPORT_FILE_RETENTION_DAYS = env.int("PORTAL_IMPORT_FILE_RETENTION_DAYS", default=30)
PORTAL_TASK_RESULT_RETENTION_DAYS = env.int("PORTAL_TASK_RESULT_RETENTION_DAYS", default=14)
# Consent certificates: may the Marketing group export them too (Compliance always may),
# and the time zone certificates and the contact page show when the staff member names none.
PORTAL_MARKETING_EXPORTS_EVIDENCE = env.bool("PORTAL_MARKETING_EXPORTS_EVIDENCE", default=False)
# API opt-ins must carry the consent wording the person agreed to (consent_text).
PORTAL_REQUIRE_CONSENT_TEXT = env.bool("PORTAL_REQUIRE_CONSENT_TEXT", default=False)
PORTAL_STAFF_TIME_ZONE = env.str("PORTAL_STAFF_TIME_ZONE", default="UTC")
# Public address of the portal, for links printed outside a request (preferences_link).
PORTAL_BASE_URL = env("PORTAL_BASE_URL", default="http://127.0.0.1:8000")
# FCC 24-24 "revoke all": `code` (a revocation stops the code it came on) or `brand` (every
# code of the same brand). The brand rule is waived until 31 Jan 2027.
PORTAL_REVOKE_ALL_SCOPE = env.str("PORTAL_REVOKE_ALL_SCOPE", default="code")

LOG_FORMAT = env.str("LOG_FORMAT", default="plain")  # plain or json
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"request_id": {"()": "portal.observability.RequestIdFilter"}},
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s"},
        "json": {"()": "portal.observability.JsonFormatter"},
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": LOG_FORMAT,
            "filters": ["request_id"],
        }
    },
    "root": {"handlers": ["console"], "level": env("LOG_LEVEL", default="INFO")},
    "loggers": {"django.db.backends": {"level": "WARNING"}},
}
