"""Tierdesk settings: one module, configured by environment variables.

With no variables set Tierdesk runs in *embedded mode*: an embedded PostgreSQL under
``var/`` (started by `make run`, see ``helpdesk/embedded_pg.py``), the cache in a
PostgreSQL table, Celery over kombu's filesystem transport under ``var/``, e-mail to
the console. Set ``DATABASE_URL`` (PostgreSQL) and ``CELERY_BROKER_URL`` /
``REDIS_URL`` (Redis) for a production stack. See README.md for the full table of variables.

Django reference: https://docs.djangoproject.com/en/5.2/ref/settings/
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from urllib.parse import unquote

import environ

from helpdesk import embedded_pg

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(environ.Env().str("TIERDESK_VAR_DIR", default=str(BASE_DIR / "var")))
VAR_DIR.mkdir(parents=True, exist_ok=True)

env = environ.Env()
# A local .env is a convenience for developers; real deployments set variables.
if (BASE_DIR / ".env").exists():
    env.read_env(str(BASE_DIR / ".env"))

# ---------------------------------------------------------------------------
# Core
# ---------------------------------------------------------------------------
DEBUG = env.bool("DJANGO_DEBUG", default=True)
if DEBUG:
    SECRET_KEY = env.str(
        "DJANGO_SECRET_KEY", default="embedded-mode-insecure-key-do-not-use-in-production"
    )
else:
    # No default on purpose: production must bring its own key.
    SECRET_KEY = env.str("DJANGO_SECRET_KEY")

ALLOWED_HOSTS = env.list(
    "DJANGO_ALLOWED_HOSTS", default=["127.0.0.1", "localhost", "[::1]", "testserver"]
)
CSRF_TRUSTED_ORIGINS = env.list("DJANGO_CSRF_TRUSTED_ORIGINS", default=[])
SITE_URL = env.str("TIERDESK_SITE_URL", default="http://127.0.0.1:8000").rstrip("/")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "django.contrib.postgres",
    "rest_framework",
    "django_filters",
    "drf_spectacular",
    "django_htmx",
    "helpdesk",
    "tiers",
    "tickets",
    "knowledgebase",
    "reports",
    "integrations",
    "desk",
    "identity",
    "emailchannel",
    "automation",
    "drf_spectacular_sidecar",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "helpdesk.middleware.RejectNulMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    # Activates the signed-in user's own time zone (kept in the session: no query).
    "desk.middleware.UserTimeZoneMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "helpdesk.middleware.SecurityHeadersMiddleware",
    "helpdesk.middleware.DatabaseOutageMiddleware",
    "helpdesk.middleware.MemoScopeMiddleware",
]

ROOT_URLCONF = "helpdesk.urls"
WSGI_APPLICATION = "helpdesk.wsgi.application"

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
                "helpdesk.context_processors.navigation",
            ],
        },
    },
]

# ---------------------------------------------------------------------------
# Database: PostgreSQL, always. With no DATABASE_URL, the embedded server of
# `make run` (helpdesk/embedded_pg.py: data in var/pg, a Unix socket in var/pgsock).
# https://docs.djangoproject.com/en/5.2/ref/databases/
# ---------------------------------------------------------------------------
DATABASES = {"default": env.db("DATABASE_URL", default=embedded_pg.Server(VAR_DIR).url())}
_db = DATABASES["default"]
# A socket directory as the URL's host is percent-encoded (postgres://u@%2Frun%2Fpg/db);
# django-environ passes it on as it is.
_db["HOST"] = unquote(_db.get("HOST") or "")
# A new connection per request costs ~6.5 ms here; keep them, and check them on reuse
# so a restarted database costs one failed request per worker, not a dead worker.
_db["CONN_MAX_AGE"] = env.int("DB_CONN_MAX_AGE", default=600)
_db["CONN_HEALTH_CHECKS"] = True
_db.setdefault("OPTIONS", {})
_db["OPTIONS"].setdefault("connect_timeout", env.int("DB_CONNECT_TIMEOUT", default=5))
_db["TEST"] = {"NAME": env.str("TEST_DATABASE_NAME", default=None)}

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# ---------------------------------------------------------------------------
# Cache: shared by every process (rate limits, login throttles, presence, page
# fragments). Redis when configured; without it, a table in PostgreSQL, so the
# embedded install's web workers and Celery still count and invalidate together.
# ---------------------------------------------------------------------------
REDIS_URL = env.str("REDIS_URL", default="")
if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "helpdesk.cache.RedisCache",  # Django's, one client per pool
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": env.str("CACHE_KEY_PREFIX", default="tierdesk"),
            # A cache outage must not take pages down; rate limits fail open.
            "OPTIONS": {"socket_connect_timeout": 0.5, "socket_timeout": 0.5},
        }
    }
    # Sessions read from Redis, written through to the database: one query less on
    # every signed-in request, and still served from the database when Redis is down.
    SESSION_ENGINE = "helpdesk.sessions"
else:
    CACHES = {
        "default": {
            "BACKEND": "helpdesk.cache.DatabaseCache",  # Django's, with an atomic incr
            "LOCATION": "tierdesk_cache",  # created by `manage.py createcachetable`
            # Django's default of 300 entries would cull live rate-limit windows.
            "OPTIONS": {"MAX_ENTRIES": 100_000, "CULL_FREQUENCY": 4},
        }
    }

# ---------------------------------------------------------------------------
# Auth
# ---------------------------------------------------------------------------
# Local passwords (identity's subclass of helpdesk.auth's backend adds the staff
# SSO-only switch), OpenID Connect sessions, the LDAP directory (identity/).
AUTHENTICATION_BACKENDS = [
    "identity.backends.PasswordBackend",
    "identity.backends.SingleSignOnBackend",
    "identity.ldap.DirectoryBackend",
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "home"
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
PASSWORD_HASHERS = env.list(
    "DJANGO_PASSWORD_HASHERS",
    default=[
        "django.contrib.auth.hashers.PBKDF2PasswordHasher",
        "django.contrib.auth.hashers.PBKDF2SHA1PasswordHasher",
    ],
)
LOGIN_FAILURE_LIMIT = env.int("LOGIN_FAILURE_LIMIT", default=5)
LOGIN_FAILURE_WINDOW_SECONDS = env.int("LOGIN_FAILURE_WINDOW_SECONDS", default=900)
# Per client address: higher than per account, since an office shares one NAT address.
LOGIN_FAILURE_IP_LIMIT = env.int("LOGIN_FAILURE_IP_LIMIT", default=30)
TRUSTED_PROXY_HOPS = env.int("TIERDESK_TRUSTED_PROXY_HOPS", default=0)

# Single sign-on and the directory (identity/; README "Single sign-on and LDAP").
# Providers: a JSON list of {slug, name, issuer, client_id, client_secret, scopes,
# groups_claim, groups, default_role, trust_email}. Roles: customer, agent:<tier>,
# manager[:<tier>], none (refused).
TIERDESK_OIDC_PROVIDERS = env.json("TIERDESK_OIDC_PROVIDERS", default=[])
TIERDESK_IDENTITY_GROUP_ROLES = env.json("TIERDESK_IDENTITY_GROUP_ROLES", default={})
TIERDESK_STAFF_SSO_ONLY = env.bool("TIERDESK_STAFF_SSO_ONLY", default=False)
TIERDESK_LDAP = {
    "SERVER_URI": env.str("TIERDESK_LDAP_URI", default=""),  # ldap:// (with START_TLS) or ldaps://
    "START_TLS": env.bool("TIERDESK_LDAP_START_TLS", default=False),
    "CA_CERT_FILE": env.str("TIERDESK_LDAP_CA_CERT_FILE", default=""),
    "BIND_DN": env.str("TIERDESK_LDAP_BIND_DN", default=""),
    "BIND_PASSWORD": env.str("TIERDESK_LDAP_BIND_PASSWORD", default=""),
    "USER_SEARCH_BASE": env.str("TIERDESK_LDAP_USER_SEARCH_BASE", default=""),
    "USER_FILTER": env.str("TIERDESK_LDAP_USER_FILTER", default="(uid=%(user)s)"),
    "GROUP_SEARCH_BASE": env.str("TIERDESK_LDAP_GROUP_SEARCH_BASE", default=""),
    "GROUP_TYPE": env.str("TIERDESK_LDAP_GROUP_TYPE", default="groupOfNames"),
    "GROUP_ROLES": env.json("TIERDESK_LDAP_GROUP_ROLES", default={}),
    "DEFAULT_ROLE": env.str("TIERDESK_LDAP_DEFAULT_ROLE", default="customer"),
    "TIMEOUT": env.float("TIERDESK_LDAP_TIMEOUT", default=5.0),
}

# ---------------------------------------------------------------------------
# I18N / time
# ---------------------------------------------------------------------------
LANGUAGE_CODE = "en-us"
TIME_ZONE = env.str("TIERDESK_TIME_ZONE", default="UTC")
USE_I18N = True
USE_TZ = True

# ---------------------------------------------------------------------------
# Static and media. Whitenoise serves hashed static files; media (attachments) is
# never served by the web server directly: views check access and stream them.
# ---------------------------------------------------------------------------
STATIC_URL = "/static/"
STATIC_ROOT = Path(env.str("STATIC_ROOT", default=str(VAR_DIR / "staticfiles")))
STATIC_ROOT.mkdir(parents=True, exist_ok=True)
STATICFILES_DIRS = [BASE_DIR / "static"]
MEDIA_ROOT = Path(env.str("MEDIA_ROOT", default=str(VAR_DIR / "media")))
MEDIA_URL = "/media-not-served/"
STORAGES = {
    "default": {
        "BACKEND": env.str(
            "TIERDESK_MEDIA_STORAGE", default="django.core.files.storage.FileSystemStorage"
        )
    },
    "staticfiles": {
        "BACKEND": (
            "django.contrib.staticfiles.storage.StaticFilesStorage"
            if DEBUG
            else "helpdesk.storage.StaticStorage"  # WhiteNoise's, URLs worked out once
        )
    },
}
ATTACHMENT_MAX_BYTES = env.int("ATTACHMENT_MAX_BYTES", default=10 * 1024 * 1024)
ATTACHMENT_MAX_FILES = env.int("ATTACHMENT_MAX_FILES", default=5)
ATTACHMENT_ALLOWED_EXTENSIONS = env.list(
    "ATTACHMENT_ALLOWED_EXTENSIONS",
    default=[
        "png", "jpg", "jpeg", "gif", "webp", "pdf", "txt", "log", "csv",
        "docx", "xlsx", "pptx", "odt", "ods", "zip",
    ],
)  # fmt: skip
# Customer portal abuse limits (helpdesk.ratelimit, counted in the cache per window).
# Submissions: every POST per IP (bots included), accepted tickets per e-mail.
PORTAL_RATE_WINDOW_SECONDS = env.int("PORTAL_RATE_WINDOW_SECONDS", default=3600)
PORTAL_SUBMIT_LIMIT_PER_IP = env.int("PORTAL_SUBMIT_LIMIT_PER_IP", default=20)
PORTAL_SUBMIT_LIMIT_PER_EMAIL = env.int("PORTAL_SUBMIT_LIMIT_PER_EMAIL", default=10)
PORTAL_REPLY_LIMIT_PER_IP = env.int("PORTAL_REPLY_LIMIT_PER_IP", default=60)
PORTAL_REPLY_LIMIT_PER_EMAIL = env.int("PORTAL_REPLY_LIMIT_PER_EMAIL", default=30)
PORTAL_SIGNUP_LIMIT_PER_IP = env.int("PORTAL_SIGNUP_LIMIT_PER_IP", default=10)
# Suggestions fire on typing (debounced): a per-minute ceiling per IP.
PORTAL_SUGGEST_LIMIT_PER_MINUTE = env.int("PORTAL_SUGGEST_LIMIT_PER_MINUTE", default=120)
# Tracking pages and their attachments read per minute per IP (GET): far above what a
# customer refreshing does, low enough to slow down scraping and token guessing.
PORTAL_TRACK_VIEW_LIMIT_PER_MINUTE = env.int("PORTAL_TRACK_VIEW_LIMIT_PER_MINUTE", default=120)
DATA_UPLOAD_MAX_MEMORY_SIZE = 5 * 1024 * 1024
FILE_UPLOAD_MAX_MEMORY_SIZE = 2 * 1024 * 1024

# ---------------------------------------------------------------------------
# E-mail: console in embedded mode; SMTP via EMAIL_URL.
# ---------------------------------------------------------------------------
EMAIL_CONFIG = env.email_url("EMAIL_URL", default="consolemail://")
vars().update(EMAIL_CONFIG)
# For EMAIL_URL=filemail:// (tests and demos read the messages from this folder);
# django-environ would read filemail:///abs/path as a relative path.
EMAIL_FILE_PATH = env.str("EMAIL_FILE_PATH", default=str(VAR_DIR / "mail"))
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="Tierdesk <support@tierdesk.local>")
SERVER_EMAIL = DEFAULT_FROM_EMAIL
MANAGER_ALERT_EMAILS = env.list("MANAGER_ALERT_EMAILS", default=[])
# Notifications are sent in batches: the first event of a window queues one task that
# runs when the window closes (tickets.services.notify.notifications_kick); 0 queues
# one task per event.
NOTIFY_BATCH_SECONDS = env.int("NOTIFY_BATCH_SECONDS", default=1)

# ---------------------------------------------------------------------------
# Inbound e-mail (emailchannel/): every door is off until configured.
# ---------------------------------------------------------------------------
# The mailbox the beat task polls: imaps://user:pass@host[:993]/INBOX (TLS),
# imap://…?starttls=1, or imap://… (plain, loopback tests only). Empty: no polling.
EMAIL_INBOX_URL = env.str("EMAIL_INBOX_URL", default="")
# Extra CA certificates (PEM) to trust for the mailbox's TLS, e.g. a private CA.
EMAIL_INBOX_CA_FILE = env.str("EMAIL_INBOX_CA_FILE", default="")
EMAIL_POLL_SECONDS = env.float("EMAIL_POLL_SECONDS", default=15.0)
# Between polls the task waits in IMAP IDLE (where offered) and reads new mail at once;
# it then holds one worker process. 0: poll only.
EMAIL_IMAP_IDLE = env.bool("EMAIL_IMAP_IDLE", default=True)
# Threads that take a fetched chunk of messages in at once (each its own transaction).
EMAIL_IMAP_WORKERS = env.int("EMAIL_IMAP_WORKERS", default=4)
# Where processed messages are moved (empty: they stay, flagged \Seen).
EMAIL_INBOX_PROCESSED_FOLDER = env.str("EMAIL_INBOX_PROCESSED_FOLDER", default="")
# Shared secret of POST /email/inbound/ (MTA pipe, provider webhook). Empty: 404.
EMAIL_WEBHOOK_SECRET = env.str("EMAIL_WEBHOOK_SECRET", default="")
# The signed reply address of outgoing mail; {token} is replaced. Empty: no Reply-To.
EMAIL_REPLY_ADDRESS = env.str("EMAIL_REPLY_ADDRESS", default="")
# Further addresses of ours (aliases): mail from them is never answered.
EMAIL_OWN_ADDRESSES = env.list("EMAIL_OWN_ADDRESSES", default=[])
# New tickets by recipient address, "network@example.com=network-slug,…"; otherwise
# EMAIL_DEFAULT_CATEGORY (a slug), otherwise the first active Tier 1 category.
EMAIL_CATEGORY_ADDRESSES = env.dict("EMAIL_CATEGORY_ADDRESSES", default={})
EMAIL_DEFAULT_CATEGORY = env.str("EMAIL_DEFAULT_CATEGORY", default="")
EMAIL_INBOUND_MAX_BYTES = env.int("EMAIL_INBOUND_MAX_BYTES", default=40 * 1024 * 1024)
EMAIL_INBOUND_LIMIT_PER_SENDER = env.int("EMAIL_INBOUND_LIMIT_PER_SENDER", default=30)
EMAIL_INBOUND_WINDOW_SECONDS = env.int("EMAIL_INBOUND_WINDOW_SECONDS", default=3600)
# The authserv-id of the receiving MTA whose Authentication-Results header is
# trusted (RFC 8601). Set, a reply matched only by "[TD-…]" in the subject needs that
# MTA's dmarc=pass (or an aligned dkim/spf pass) for its From.
EMAIL_AUTHSERV_ID = env.str("EMAIL_AUTHSERV_ID", default="")

# ---------------------------------------------------------------------------
# Celery: filesystem transport in var/ by default, Redis with CELERY_BROKER_URL.
# https://docs.celeryq.dev/en/stable/userguide/configuration.html
# ---------------------------------------------------------------------------
CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default=REDIS_URL or "filesystem://")
if CELERY_BROKER_URL == "filesystem://":
    _broker_dir = VAR_DIR / "broker"
    for _sub in ("in", "processed", "control"):
        (_broker_dir / _sub).mkdir(parents=True, exist_ok=True)
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(_broker_dir / "in"),
        "data_folder_out": str(_broker_dir / "in"),
        "processed_folder": str(_broker_dir / "processed"),
        # kombu's default is "control" in the working directory: broadcast
        # (pidbox) exchanges would land in the checkout.
        "control_folder": str(_broker_dir / "control"),
        "store_processed": False,
    }
else:
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        # Longer than the longest task: an unacked task is redelivered after this.
        "visibility_timeout": env.int("CELERY_VISIBILITY_TIMEOUT", default=3600),
        "socket_connect_timeout": 1,
        "socket_timeout": 2,
    }
# Results are not used for control flow; the database is the source of truth.
CELERY_RESULT_BACKEND = env.str("CELERY_RESULT_BACKEND", default=None)
CELERY_TASK_IGNORE_RESULT = True
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_ALWAYS_EAGER = env.bool("CELERY_TASK_ALWAYS_EAGER", default=False)
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# Publishing must not hang a web request when the broker is down: fail fast, the
# database keeps the deadline and the sweep catches up.
CELERY_BROKER_CONNECTION_TIMEOUT = 1
CELERY_TASK_PUBLISH_RETRY = False
CELERY_TIMEZONE = "UTC"

ESCALATION_SWEEP_SECONDS = env.float("ESCALATION_SWEEP_SECONDS", default=1.0)
ESCALATION_SWEEP_BATCH = env.int("ESCALATION_SWEEP_BATCH", default=500)
# /healthz answers 503, and the managers are alerted, when the last completed sweep is
# older than this (tiers/health.py).
SWEEP_STALE_SECONDS = env.int("SWEEP_STALE_SECONDS", default=30)
# Any number of `celery beat` processes may run: one holds a PostgreSQL advisory lock
# and schedules, the others wait on standby and try for the lock this often
# (helpdesk/scheduler.py).
CELERY_BEAT_SCHEDULER = "helpdesk.scheduler:LeaderScheduler"
SCHEDULER_STANDBY_SECONDS = env.float("SCHEDULER_STANDBY_SECONDS", default=1.0)
VENDOR_LINK_MAX_AGE_DAYS = env.int("VENDOR_LINK_MAX_AGE_DAYS", default=14)
TICKET_AUTOCLOSE_DAYS = env.int("TICKET_AUTOCLOSE_DAYS", default=7)
# Waiting on the customer: one reminder after this many days, resolved after that many
# (0 turns either off). tickets/services/lifecycle.py.
TICKET_PENDING_REMINDER_DAYS = env.int("TICKET_PENDING_REMINDER_DAYS", default=3)
TICKET_PENDING_AUTORESOLVE_DAYS = env.int("TICKET_PENDING_AUTORESOLVE_DAYS", default=7)

# Redis serves lower numbers first (steps 0/3/6/9); the escalation sweep uses 0.
CELERY_TASK_DEFAULT_PRIORITY = 5

CELERY_BEAT_SCHEDULE = {
    "escalation-sweep": {
        "task": "tiers.tasks.escalation_sweep",
        "schedule": timedelta(seconds=ESCALATION_SWEEP_SECONDS),
        # A sweep older than its interval is stale: the next one will do its work.
        # Priority 0 is served first on Redis: a backlog of e-mail tasks never delays
        # a deadline (every other task has CELERY_TASK_DEFAULT_PRIORITY).
        "options": {"expires": max(ESCALATION_SWEEP_SECONDS * 5, 5), "priority": 0},
    },
    "vendor-followup": {
        # Vendor chase reminders, overdue-vendor alerts, resending lost alert e-mails.
        "task": "tiers.tasks.vendor_followup",
        "schedule": timedelta(seconds=env.float("VENDOR_FOLLOWUP_SECONDS", default=60.0)),
    },
    # A no-op without EMAIL_INBOX_URL; IDLEs between polls where the server can.
    "email-inbox-poll": {
        "task": "emailchannel.tasks.mailbox_poll",
        "schedule": timedelta(seconds=EMAIL_POLL_SECONDS),
        "options": {"expires": max(EMAIL_POLL_SECONDS, 5)},
    },
    "ticket-lifecycle": {
        # Reminders, auto-resolve and auto-close count in days: every few minutes is
        # punctual enough, and a run with nothing due is three index probes.
        "task": "tickets.tasks.lifecycle_sweep",
        "schedule": timedelta(seconds=env.float("TICKET_LIFECYCLE_SECONDS", default=300.0)),
        "options": {"expires": 240},
    },
    "ticket-assignment": {
        # Auto-assignment runs on every arrival (an event hook); this catches up what a
        # hook missed and moves the tickets of agents who are away (tiers/assignment.py).
        "task": "tiers.tasks.assignment_sweep",
        "schedule": timedelta(seconds=env.float("ASSIGNMENT_SWEEP_SECONDS", default=60.0)),
        "options": {"expires": 50},
    },
    "notification-outbox": {
        "task": "tickets.tasks.notification_outbox_flush",
        "schedule": timedelta(seconds=60),
    },
    # Dashboard rollups: finished days become exact rows; hourly so a missed night
    # (worker down at midnight) is caught up soon. A built day costs one small query.
    # Directory leavers lose access within this interval (no-op without TIERDESK_LDAP_URI).
    "identity-directory-sync": {
        "task": "identity.tasks.directory_sync",
        "schedule": timedelta(seconds=env.float("TIERDESK_LDAP_SYNC_SECONDS", default=900.0)),
    },
    "reports-rollup": {
        "task": "reports.tasks.reports_rollup_refresh",
        "schedule": timedelta(hours=1),
        "options": {"expires": 3000},
    },
}
# Finished days rebuilt by every rollup run (late facts about them are counted).
REPORTS_ROLLUP_RECENT_DAYS = env.int("REPORTS_ROLLUP_RECENT_DAYS", default=2)
# Dashboard figures are shared between requests for this long (0: always live).
REPORTS_CACHE_SECONDS = env.int("REPORTS_CACHE_SECONDS", default=60)

# ---------------------------------------------------------------------------
# REST framework / OpenAPI
# ---------------------------------------------------------------------------
REST_FRAMEWORK = {
    # Token first: its challenge makes anonymous API calls answer 401, not 403.
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "integrations.authentication.ApiTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    # TokenHasScope: an API token needs the endpoint's scope (integrations/scopes.py);
    # endpoints open to everyone list it next to AllowAny.
    "DEFAULT_PERMISSION_CLASSES": [
        "rest_framework.permissions.IsAuthenticated",
        "integrations.permissions.TokenHasScope",
    ],
    # JSON only: the browsable renderer needs inline scripts that the CSP forbids;
    # /api/docs/ (Swagger UI, vendored) is the API's page for people.
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    # drf-spectacular's, plus each operation's token scope (x-token-scope).
    "DEFAULT_SCHEMA_CLASS": "integrations.schema.ScopedAutoSchema",
    "EXCEPTION_HANDLER": "helpdesk.exceptions.api_exception_handler",
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    # Counted in the Django cache (Redis when configured): per user, per token, per
    # anonymous address. 429 answers carry Retry-After.
    "DEFAULT_THROTTLE_CLASSES": [
        "integrations.throttling.AnonThrottle",
        "integrations.throttling.UserThrottle",
        "integrations.throttling.TokenThrottle",
    ],
    "DEFAULT_THROTTLE_RATES": {
        "anon": env.str("API_THROTTLE_ANON", default="60/min"),
        "user": env.str("API_THROTTLE_USER", default="600/min"),
        "token": env.str("API_THROTTLE_TOKEN", default="300/min"),
    },
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Tierdesk API",
    "DESCRIPTION": (
        "Tickets, tiers, knowledge base and metrics of a tiered IT help desk.\n\n"
        "Authenticate with a session (browser; unsafe methods need the CSRF token) or a "
        "personal API token from /accounts/tokens/ sent as `Authorization: Bearer <token>`. "
        "Errors are JSON: `detail` plus one list of messages per invalid field. Requests "
        "are throttled per user and per token (429 with `Retry-After`).\n\n"
        "**Webhooks** (registered by managers in the admin) POST JSON on `ticket.created`, "
        "`ticket.escalated` (by an agent or a timer) and `ticket.resolved`. Verify them: "
        "HMAC-SHA256 with the webhook's secret over `<X-Tierdesk-Timestamp>.<raw body>` "
        "must equal `X-Tierdesk-Signature` (`sha256=<hex>`); reject old timestamps. "
        "Failed deliveries (network errors, 5xx) are retried with exponential backoff. "
        "Receivers must be on public addresses (internal networks only when listed in "
        "WEBHOOK_ALLOWED_NETWORKS)."
    ),
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SCHEMA_PATH_PREFIX": r"/api/v1",
    "COMPONENT_SPLIT_REQUEST": True,
    # Swagger UI from the drf-spectacular-sidecar package: no CDN at run time.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
}

# Personal API tokens expire after this many days unless their owner chooses otherwise
# (0: new tokens never expire by default).
API_TOKEN_DEFAULT_EXPIRY_DAYS = env.int("API_TOKEN_DEFAULT_EXPIRY_DAYS", default=90)

# Outgoing webhooks (integrations app): short timeouts, exponential backoff on
# network errors and 5xx, at most this many attempts per delivery.
WEBHOOK_TIMEOUT_SECONDS = env.float("WEBHOOK_TIMEOUT_SECONDS", default=5.0)
WEBHOOK_MAX_ATTEMPTS = env.int("WEBHOOK_MAX_ATTEMPTS", default=6)
WEBHOOK_RETRY_BASE_SECONDS = env.int("WEBHOOK_RETRY_BASE_SECONDS", default=30)
# Webhooks never call internal addresses (loopback, RFC 1918, ULA, link-local, cloud
# metadata…; integrations/egress.py) unless their network is listed here, e.g.
# "10.20.0.0/16,fd12:3456::/48" for an on-premise receiver.
WEBHOOK_ALLOWED_NETWORKS = env.list("WEBHOOK_ALLOWED_NETWORKS", default=[])

# ---------------------------------------------------------------------------
# Security. Production (DEBUG off) passes `manage.py check --deploy` cleanly.
# https://docs.djangoproject.com/en/5.2/howto/deployment/checklist/
# ---------------------------------------------------------------------------
SESSION_COOKIE_HTTPONLY = True
CSRF_COOKIE_HTTPONLY = False  # htmx reads it from the meta tag, not the cookie
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
if not DEBUG:
    SECURE_SSL_REDIRECT = env.bool("DJANGO_SECURE_SSL_REDIRECT", default=True)
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_REDIRECT_EXEMPT = [r"^healthz$"]
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_HSTS_SECONDS = env.int("DJANGO_SECURE_HSTS_SECONDS", default=60 * 60 * 24 * 365)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True

# Live updates (helpdesk/live.py): agents' pages hold a Server-Sent Events stream
# open, served by the ASGI stream server (Procfile `stream`); messages travel over Redis
# pub/sub. Without Redis nothing is pushed and the pages poll.
LIVE_REDIS_URL = env.str("LIVE_REDIS_URL", default=REDIS_URL)
LIVE_CHANNEL_PREFIX = env.str("LIVE_CHANNEL_PREFIX", default="tierdesk-live")
# Where pages open the stream: the same origin when a proxy routes /live/ to the
# stream server (Kubernetes Ingress, nginx), or the stream server's own address.
LIVE_STREAM_URL = env.str("TIERDESK_LIVE_URL", default="/live/stream/")
# Page origins allowed to read the stream cross-origin (with cookies), e.g. the web
# node's own origin when the stream server listens on another port (`make run`).
LIVE_ALLOWED_ORIGINS = env.list("TIERDESK_LIVE_ALLOWED_ORIGINS", default=[])
_live_origin = (
    "" if LIVE_STREAM_URL.startswith("/") else " " + "/".join(LIVE_STREAM_URL.split("/", 3)[:3])
)

# Content-Security-Policy without inline scripts: every script is a static file.
CONTENT_SECURITY_POLICY = env.str(
    "TIERDESK_CSP",
    default=(
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        f"font-src 'self'; connect-src 'self'{_live_origin}; frame-ancestors 'none'; "
        "form-action 'self'; base-uri 'self'; object-src 'none'"
    ),
)

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    "loggers": {"django.db.backends": {"level": "INFO"}},
}

# The bench-only ceiling view exists only when this is set (see bench/).
TIERDESK_BENCH = env.bool("TIERDESK_BENCH", default=False)
CSRF_FAILURE_VIEW = "helpdesk.views.csrf_failure"
