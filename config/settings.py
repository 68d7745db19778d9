"""Settings for Liaison RSA.

Everything that differs between installations comes from the environment (or
a `.env` file beside manage.py). With no variable set, the application runs in
the *embedded* mode meant for a first run: SQLite, Celery tasks executed
eagerly in-process, files under ./data. `APP_MODE=production` switches to
PostgreSQL, a Redis broker and a real worker, and refuses unsafe values.
"""

from __future__ import annotations

from pathlib import Path

import environ
from celery.schedules import crontab
from django.core.exceptions import ImproperlyConfigured

from config.embedded import read_secret_key
from config.env import (
    env_bool,
    env_choice,
    env_db,
    env_departement,
    env_float,
    env_int,
    env_list,
    env_networks,
    env_str,
    refuse_renamed,
)

BASE_DIR = Path(__file__).resolve().parent.parent

# A .env file is a convenience for operators; real environment variables win.
environ.Env.read_env(BASE_DIR / ".env", overwrite=False)

APP_MODE = env_choice("APP_MODE", "embedded", ["embedded", "production"])
PRODUCTION = APP_MODE == "production"

DATA_DIR = Path(env_str("DATA_DIR", str(BASE_DIR / "data"))).resolve()
# Every NIR lives under it (SQLite database, exchange files): 0700. Importing these settings
# makes nothing; the entry points make it, with the key and the SQLite file (config/embedded.py).
# In production the operator owns the volume's mode, and `check --deploy` looks at it.

DEBUG = env_bool("DEBUG", False)


# Production refuses a missing or weak key (`check --deploy`, liaison.E001: config/checks.py).
# Embedded mode without one: the installation's random key, kept in DATA_DIR/secret_key so that
# sessions survive a restart; config.embedded.prepare() makes it ("" until then).
SECRET_KEY = env_str("SECRET_KEY")
SECRET_KEY_FILE = DATA_DIR / "secret_key" if not SECRET_KEY and not PRODUCTION else None
if SECRET_KEY_FILE:
    SECRET_KEY = read_secret_key(SECRET_KEY_FILE)

# What production refuses (DEBUG on, no host or '*', no PostgreSQL or Redis, proxies unlisted,
# exchange credentials missing…) is not checked here but by the system checks of
# config/checks.py: `check --deploy` lists them all with their ids, and the production entry
# points (manage.py, WSGI, Celery) refuse to start while one is failing. What is read here
# refuses only a value that is malformed whatever the mode (config/env.py).
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", [] if PRODUCTION else ["127.0.0.1", "localhost"])
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS")

# The département this instance serves, without left padding ("82", "2A", "971").
DEPARTEMENT = env_departement("DEPARTEMENT", "82")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "accounts",
    "beneficiaries",
    "exchanges",
    "orientations",
    "caseloads",
    # The Département's CSV files (beneficiaries, past decisions), matched as the PECGM import does.
    "intake",
    # The caseworkers' pages (lists, search, cohorts, dashboard): the web layer above the domain.
    "pages",
    # Security (issue 7): brute-force lockout, second factor, CSP, audit trail.
    "axes",
    "django_otp",
    "django_otp.plugins.otp_totp",
    "csp",
    "audit",
    # The data subject's rights (rectification, erasure, restriction) and the end of the convention.
    "rights",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django_otp.middleware.OTPMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "accounts.middleware.SessionLifetimeMiddleware",
    "accounts.middleware.SecondFactorMiddleware",
    "accounts.middleware.NoStoreMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "csp.middleware.CSPMiddleware",
    # Last, as django-axes asks: it turns a flagged login attempt into the lockout page.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"

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
                "accounts.context_processors.roles",
                "config.health.degraded",
            ],
        },
    },
]

# --- Database -------------------------------------------------------------

if env_str("DATABASE_URL"):
    DATABASES = {"default": env_db("DATABASE_URL", "")}
elif PRODUCTION:
    # Never a SQLite file in production: Django's dummy backend refuses every query (liaison.E006).
    DATABASES = {"default": {"ENGINE": "django.db.backends.dummy"}}
else:
    DATABASES = {
        "default": {"ENGINE": "django.db.backends.sqlite3", "NAME": DATA_DIR / "liaison-rsa.sqlite3"}
    }
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # The file is made empty and 0600 before SQLite opens it (config/embedded.py).
    # WAL lets pages read while an import writes; IMMEDIATE transactions and a
    # busy timeout make concurrent writers wait instead of failing at once.
    DATABASES["default"]["OPTIONS"] = {
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        "transaction_mode": "IMMEDIATE",
        "timeout": 20,
    }
elif DATABASES["default"]["ENGINE"] != "django.db.backends.dummy":
    DATABASES["default"].setdefault("CONN_MAX_AGE", env_int("DB_CONN_MAX_AGE", 60, minimum=0))
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
    # The pages' queries are short: PostgreSQL's JIT spent 100-160 ms compiling a 50-row list
    # query that runs in 50 ms (docs/performance.md, "Pages"). Off unless asked for.
    options = DATABASES["default"].setdefault("OPTIONS", {})
    if not env_bool("DB_JIT", False):
        options["options"] = (options.get("options", "") + " -c jit=off").strip()
    # Parallel query helps one request alone but, with many at once on a few cores, its worker
    # processes only add CPU: at 200k × 24 months they burnt a third of the machine under load
    # (docs/performance.md, "Pages"). DB_PARALLEL_WORKERS sets max_parallel_workers_per_gather.
    parallel = env_int("DB_PARALLEL_WORKERS", 0, minimum=0, maximum=16)
    # The planner's default cost of a random read (4) is a spinning disk's: it made PostgreSQL
    # read the 200 000 follow-ups in full to sort 8 000 of them (160 ms) rather than look each
    # up by its key (50 ms). On SSDs, or a database that fits in memory, 1.1 is the usual value.
    random_page_cost = env_float("DB_RANDOM_PAGE_COST", 1.1, minimum=0.1, maximum=100)
    options["options"] = (
        options.get("options", "")
        + f" -c max_parallel_workers_per_gather={parallel} -c random_page_cost={random_page_cost}"
    ).strip()

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Accounts -------------------------------------------------------------

AUTH_USER_MODEL = "accounts.User"
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"

# The lockout backend only watches attempts; ModelBackend checks the password.
AUTHENTICATION_BACKENDS = [
    "accounts.backends.LockoutBackend",
    # ModelBackend, whose user also says whether they have a second-factor device.
    "accounts.backends.UserBackend",
]

# Passwords: length and a common-password list, no composition rule and no
# forced rotation (CNIL délibération 2022-100, OWASP ASVS 5 V6).
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {
        "NAME": "django.contrib.auth.password_validation.MinimumLengthValidator",
        "OPTIONS": {"min_length": 12},
    },
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

# --- Internationalisation ---------------------------------------------------

LANGUAGE_CODE = "fr"
LANGUAGES = [("fr", "Français")]
TIME_ZONE = "Europe/Paris"
USE_I18N = True
USE_TZ = True
LOCALE_PATHS = [BASE_DIR / "locale"]

# --- Static files -----------------------------------------------------------

STATIC_URL = "/static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
# Production serves the collected files; the embedded mode serves straight from
# the finders (below) and has nothing to collect.
STATIC_ROOT = (
    Path(env_str("STATIC_ROOT", str(BASE_DIR / "staticfiles")))
    if PRODUCTION or env_str("STATIC_ROOT")
    else None
)
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"
        if PRODUCTION
        else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
}
# In embedded mode nobody runs collectstatic: whitenoise serves from the finders.
WHITENOISE_USE_FINDERS = not PRODUCTION
WHITENOISE_AUTOREFRESH = DEBUG

# Files received and produced by exchanges (raw PECGM, generated CGPEM).
EXCHANGE_FILES_DIR = Path(env_str("EXCHANGE_FILES_DIR", str(DATA_DIR / "files")))

# --- Security ----------------------------------------------------------------

SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
SESSION_COOKIE_SECURE = env_bool("SESSION_COOKIE_SECURE", PRODUCTION)
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
SESSION_COOKIE_AGE = env_int("SESSION_IDLE_TIMEOUT_MINUTES", 30, minimum=1) * 60
# The age above is an idle timeout: accounts.middleware saves the session (renewing its expiry)
# when the last activity it recorded is a minute old, rather than on every request (an UPDATE each).
SESSION_SAVE_EVERY_REQUEST = False
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", PRODUCTION)
SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 31536000 if PRODUCTION else 0, minimum=0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = PRODUCTION
SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", False)
if not SECURE_HSTS_PRELOAD:
    # Preloading binds the Département's whole domain, which its IT service
    # decides, not this application: off unless asked for.
    SILENCED_SYSTEM_CHECKS = ["security.W021"]
BEHIND_TLS_PROXY = env_bool("BEHIND_TLS_PROXY", PRODUCTION)
if BEHIND_TLS_PROXY:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
# How many proxies append to X-Forwarded-For in front of the application: the
# client address is read that many entries from the right (accounts/client_ip.py),
# never from the left-most entry, which the client chooses.
TRUSTED_PROXY_COUNT = env_int("TRUSTED_PROXY_COUNT", 1 if BEHIND_TLS_PROXY else 0, minimum=0, maximum=5)
# The addresses (CIDR networks) of those proxies: X-Forwarded-For is read only on a request that
# comes from one of them. Anyone else who sends the header would choose the address the lockout
# counts and the audit log records.
TRUSTED_PROXIES = env_networks("TRUSTED_PROXIES")
# /healthz is polled over plain HTTP by the container healthcheck.
SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^livez$"]

# --- Security: sessions (issue 7) -----------------------------------------------
# Idle timeout: SESSION_COOKIE_AGE above, renewed at each request, and checked
# server-side by accounts.middleware. Absolute lifetime: a session older than
# this ends even when active, so that a stolen cookie does not live for ever.
SESSION_IDLE_TIMEOUT = SESSION_COOKIE_AGE
if SESSION_COOKIE_SECURE:
    # The __Host- prefix makes browsers refuse the cookie unless it is Secure,
    # for this exact host and path /: a sibling sub-domain cannot plant one.
    SESSION_COOKIE_NAME = "__Host-sessionid"
    CSRF_COOKIE_NAME = "__Host-csrftoken"
SESSION_ABSOLUTE_LIFETIME = env_int("SESSION_ABSOLUTE_LIFETIME_HOURS", 10, minimum=1, maximum=24 * 30) * 3600
SESSION_EXPIRE_AT_BROWSER_CLOSE = True

# --- Security: brute-force lockout (django-axes) --------------------------------
# Locked per account AND per client address (either is enough to lock), for a
# cool-off period; a successful login resets the account's counter.
AXES_FAILURE_LIMIT = env_int("AXES_FAILURE_LIMIT", 5, minimum=1, maximum=100)
AXES_COOLOFF_TIME = env_int("AXES_COOLOFF_MINUTES", 15, minimum=1, maximum=24 * 60) / 60  # hours
AXES_LOCKOUT_PARAMETERS = ["username", "ip_address"]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_CALLABLE = "accounts.views.lockout"  # French page, HTTP 429
AXES_CLIENT_IP_CALLABLE = "audit.client_ip.client_ip"
# Axes' own log lines would carry the typed user name (sometimes a password
# typed in the wrong field): keep them short, our audit log records attempts.
AXES_VERBOSE = False
AXES_CLIENT_STR_CALLABLE = "audit.client_ip.client_str"

# --- Security: second factor (django-otp, TOTP) -----------------------------------
# Optional for everyone; forced on administrators when this is on (the default
# in production): they enrol at their next login.
OTP_REQUIRED_FOR_ADMINS = env_bool("OTP_REQUIRED_FOR_ADMINS", PRODUCTION)
OTP_TOTP_ISSUER = env_str("OTP_TOTP_ISSUER", "Liaison RSA")
# After a wrong code django-otp waits 1 s, 2 s, 4 s… before checking another: at most this
# long (accounts.otp.cap_throttle_delay), so that a user is not locked out for days.
OTP_THROTTLE_MAX_SECONDS = env_int("OTP_THROTTLE_MAX_MINUTES", 15, minimum=1, maximum=24 * 60) * 60
# The admin site may remove a user's lost device, never show or set its secret:
# an administrator who knew another's key could pass their second factor.
OTP_ADMIN_HIDE_SENSITIVE_DATA = True

# --- Security: Content-Security-Policy (django-csp 4) -----------------------------
# Everything is served by the application itself; no inline script or style.
# data: images only for Bootstrap's built-in SVG icons (navbar toggler, selects).
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

# --- Security: retention and audit (issue 7) ---------------------------------------
# Audit entries are kept this long, then purged (CNIL délibération 2021-122: 6 to 12 months).
AUDIT_RETENTION_MONTHS = env_int("AUDIT_RETENTION_MONTHS", 12, minimum=1, maximum=120)
# Raw exchange files received (PECGM) or waiting (downloads, deposits), in days.
RETENTION_RAW_FILES_DAYS = env_int("RETENTION_RAW_FILES_DAYS", 90, minimum=1)
# Import rejects (lines refused by an import), in months.
RETENTION_REJECTS_MONTHS = env_int("RETENTION_REJECTS_MONTHS", 6, minimum=1)
# Review cases left open, linked to nobody, for this long (months) are closed and their
# identity deleted: a record nobody decided on is not kept for ever.
RETENTION_OPEN_REVIEWS_MONTHS = env_int("RETENTION_OPEN_REVIEWS_MONTHS", 12, minimum=1)
# Beneficiaries with no RSA activity (in no file, no decision) for this long are anonymised.
RETENTION_INACTIVE_MONTHS = env_int("RETENTION_INACTIVE_MONTHS", 24, minimum=1)
# France Travail history (received records) of people still active, in months (by the records'
# reference date): older records are deleted, the status events they produced stay.
RETENTION_FT_HISTORY_MONTHS = env_int("RETENTION_FT_HISTORY_MONTHS", 36, minimum=1)
# The CGPEM files the Département sent are its record of what it transmitted (erasure keeps
# them unchanged): kept this long (months), never longer than an inactive person's identity,
# or a file would still name people the anonymisation has forgotten.
RETENTION_CGPEM_ARCHIVE_MONTHS = env_int(
    "RETENTION_CGPEM_ARCHIVE_MONTHS", 12, minimum=1, maximum=RETENTION_INACTIVE_MONTHS
)

# --- Celery -------------------------------------------------------------------

REDIS_URL = env_str("REDIS_URL")
CELERY_BROKER_URL = REDIS_URL or "memory://"
CELERY_RESULT_BACKEND = None
# Embedded mode has no broker: tasks run in the web process, in order.
CELERY_TASK_ALWAYS_EAGER = env_bool("CELERY_TASK_ALWAYS_EAGER", not REDIS_URL)
CELERY_TASK_EAGER_PROPAGATES = False
# The queue tasks are sent to, and that the worker reads (celery worker -Q …): one
# broker can then serve several instances, and a task a task sends stays with them.
# The reaper (exchanges/reaper.py) looks there for the messages of waiting runs.
CELERY_TASK_DEFAULT_QUEUE = env_str("CELERY_TASK_DEFAULT_QUEUE", "celery")
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TIMEZONE = TIME_ZONE
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# A task redelivered after a worker crash must come back within the hour.
CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": 3600}

# --- Cache ---------------------------------------------------------------------
# The pages cache counts, page ids and the dashboard under a data version
# (pages.versioned_cache). With Redis (production), gunicorn's workers and Celery share
# one cache: a list counted by one worker is counted for all, and an import's new data
# version is seen at once. Sessions are then read from it too ("cached_db": still written
# to the database, so that a Redis restart logs nobody out, without waiting for the disk:
# accounts.session_store); a per-process cache could not
# hold them, since a logout in one worker would not reach the others. Without Redis
# (embedded mode) each process keeps its own cache in memory. CACHE_URL defaults to
# REDIS_URL (the keys carry the "liaison" prefix beside Celery's).
CACHE_URL = env_str("CACHE_URL", REDIS_URL)
if CACHE_URL:
    if not CACHE_URL.startswith(("redis://", "rediss://", "unix://")):
        raise ImproperlyConfigured(
            f"CACHE_URL={CACHE_URL!r} must be a Redis URL (redis://, rediss://, unix://)"
        )
    CACHES = {
        "default": {
            "BACKEND": "config.cache.RedisCache",
            "LOCATION": CACHE_URL,
            "KEY_PREFIX": "liaison",
            # Without Redis the pages go on (config/cache.py): not waiting long to find it out.
            "OPTIONS": {"socket_connect_timeout": 0.5, "socket_timeout": 2},
        }
    }
    SESSION_ENGINE = "accounts.session_store"

# --- PECGM import ----------------------------------------------------------

PECGM_MAX_FILE_SIZE = env_int("PECGM_MAX_FILE_SIZE_MB", 500, minimum=1) * 1024 * 1024
PECGM_MAX_REJECT_RATIO = env_float("PECGM_MAX_REJECT_RATIO", 0.05, minimum=0.0, maximum=1.0)
# A monthly stock with fewer records than this share of the previous stock is refused
# (an empty or cut file would mark everyone missing from it absent); 0 switches the check off.
PECGM_MIN_STOCK_RATIO = env_float("PECGM_MIN_STOCK_RATIO", 0.5, minimum=0.0, maximum=1.0)

# --- Caseworker pages (cohorts, dashboard) ------------------------------------
# Cohort "oriented to France Travail but not registered": days after the decision.
COHORT_NOT_REGISTERED_DAYS = env_int("COHORT_NOT_REGISTERED_DAYS", 60, minimum=1)
# Cohort "registered but no contact": months since the last contact.
COHORT_NO_CONTACT_MONTHS = env_int("COHORT_NO_CONTACT_MONTHS", 3, minimum=1, maximum=36)
# Cohort "PPAE not signed": days after the registration.
COHORT_PPAE_DAYS = env_int("COHORT_PPAE_DAYS", 60, minimum=1)
# Dashboard and cohort counts are cached this long (imports and decisions invalidate them sooner).
DASHBOARD_CACHE_SECONDS = env_int("DASHBOARD_CACHE_SECONDS", 900, minimum=0)

# --- Exchange server (France Travail) -----------------------------------------
# HTTPS only; Basic credentials. EXCHANGE_CA_BUNDLE: a PEM file of the
# authorities to trust instead of the system's (internal CA, the simulator).
EXCHANGE_URL = env_str("EXCHANGE_URL").rstrip("/")
if EXCHANGE_URL and not EXCHANGE_URL.startswith("https://"):
    raise ImproperlyConfigured("EXCHANGE_URL must start with https:// (exchanges are never sent in clear)")
EXCHANGE_USERNAME = env_str("EXCHANGE_USERNAME")
EXCHANGE_PASSWORD = env_str("EXCHANGE_PASSWORD")
EXCHANGE_CA_BUNDLE = env_str("EXCHANGE_CA_BUNDLE")
EXCHANGE_TIMEOUT_SECONDS = env_int("EXCHANGE_TIMEOUT_SECONDS", 60, minimum=1)
# Tries of one request on network errors and 5xx, spaced by BACKOFF, 2×BACKOFF…
EXCHANGE_ATTEMPTS = env_int("EXCHANGE_ATTEMPTS", 3, minimum=1, maximum=10)
EXCHANGE_RETRY_BACKOFF_SECONDS = env_float("EXCHANGE_RETRY_BACKOFF_SECONDS", 5.0, minimum=0.0)
# Wall-clock limits of a fetch, whatever the server does (a byte just inside the timeout
# resets it for ever): per file, per run, and a minimum throughput once a timeout has passed.
EXCHANGE_FILE_DEADLINE_SECONDS = env_int("EXCHANGE_FILE_DEADLINE_SECONDS", 900, minimum=1)
EXCHANGE_RUN_DEADLINE_SECONDS = env_int("EXCHANGE_RUN_DEADLINE_SECONDS", 2400, minimum=1)
EXCHANGE_MIN_BYTES_PER_SECOND = env_int("EXCHANGE_MIN_BYTES_PER_SECOND", 10240, minimum=0)
# What one fetch may take from the server: files, megabytes, and the free space it leaves.
EXCHANGE_MAX_FILES_PER_RUN = env_int("EXCHANGE_MAX_FILES_PER_RUN", 40, minimum=1)
EXCHANGE_MAX_BYTES_PER_RUN = env_int("EXCHANGE_MAX_MB_PER_RUN", 4096, minimum=1) * 1024 * 1024
EXCHANGE_MIN_FREE_DISK = env_int("EXCHANGE_MIN_FREE_DISK_MB", 1024, minimum=0) * 1024 * 1024
# Names dated more than this many days ago are not fetched (the server keeps files a month); 0 = no limit.
EXCHANGE_MAX_FILE_AGE_DAYS = env_int("EXCHANGE_MAX_FILE_AGE_DAYS", 62, minimum=0)
# Then the Celery task itself comes back later, this many times.
EXCHANGE_TASK_MAX_RETRIES = env_int("EXCHANGE_TASK_MAX_RETRIES", 5, minimum=0)
EXCHANGE_TASK_RETRY_DELAY_SECONDS = env_int("EXCHANGE_TASK_RETRY_DELAY_SECONDS", 600, minimum=1)
# A task is stopped after this long (under the broker's visibility timeout).
EXCHANGE_TASK_TIME_LIMIT_SECONDS = env_int("EXCHANGE_TASK_TIME_LIMIT_SECONDS", 3000, minimum=60, maximum=3500)
# A run that finds another of its direction going (lock held) tries again after this long.
EXCHANGE_LOCK_LEASE_SECONDS = env_int("EXCHANGE_LOCK_LEASE_SECONDS", 120, minimum=2)
# Faults of the infrastructure delay an exchange, never lose it (docs/exchanges.md, "Pannes").
# A database connection lost: the task comes back after this delay, doubled each time.
EXCHANGE_DB_RETRY_DELAY_SECONDS = env_int("EXCHANGE_DB_RETRY_DELAY_SECONDS", 15, minimum=1)
# How long the record of a failure is tried again while the database restarts.
EXCHANGE_DB_RECOVERY_SECONDS = env_int("EXCHANGE_DB_RECOVERY_SECONDS", 60, minimum=0)
# A running exchange writes a sign of life this often…
EXCHANGE_HEARTBEAT_SECONDS = env_int("EXCHANGE_HEARTBEAT_SECONDS", 30, minimum=1)
# …and the reaper takes over one silent for this long (or waiting, its message lost).
EXCHANGE_STALE_RUN_MINUTES = env_int("EXCHANGE_STALE_RUN_MINUTES", 5, minimum=1)
# The reaper runs this often (beat), and when a worker starts.
EXCHANGE_REAPER_MINUTES = env_int("EXCHANGE_REAPER_MINUTES", 2, minimum=1, maximum=59)
# Admins are alerted about an exchange running or waiting longer than this.
EXCHANGE_STUCK_ALERT_MINUTES = env_int("EXCHANGE_STUCK_ALERT_MINUTES", 90, minimum=1)

# Celery beat: when exchanges run by themselves (Europe/Paris time).
EXCHANGE_SCHEDULE_HOUR = env_int("EXCHANGE_SCHEDULE_HOUR", 6, minimum=0, maximum=23)
EXCHANGE_MONTHLY_FETCH = env_bool("EXCHANGE_MONTHLY_FETCH", True)
# France Travail's server keeps a monthly file one month: the monthly stock is polled every
# day from this day of the month until that month's stock is imported (a file that appears
# late is still taken), not once on a fixed day.
PECGM_POLL_FROM_DAY = env_int("PECGM_POLL_FROM_DAY", 1, minimum=1, maximum=28)
EXCHANGE_DAILY_FETCH = env_bool("EXCHANGE_DAILY_FETCH", False)
EXCHANGE_MONTHLY_DEPOSIT = env_bool("EXCHANGE_MONTHLY_DEPOSIT", True)
EXCHANGE_MONTHLY_DEPOSIT_DAY = env_int("EXCHANGE_MONTHLY_DEPOSIT_DAY", 1, minimum=1, maximum=28)
EXCHANGE_DAILY_DEPOSIT = env_bool("EXCHANGE_DAILY_DEPOSIT", False)

# After this day of the month, a month without its stock imported raises the admins' alert
# (home page and exchanges page; the e-mail too with EXCHANGE_ALERT_EMAIL).
PECGM_ALERT_AFTER_DAY = env_int("PECGM_ALERT_AFTER_DAY", 10, minimum=1, maximum=28)
if PECGM_ALERT_AFTER_DAY < PECGM_POLL_FROM_DAY:
    raise ImproperlyConfigured(
        "PECGM_ALERT_AFTER_DAY must not come before PECGM_POLL_FROM_DAY: the alert is for a stock "
        "still missing after some days of polling"
    )
# The variables the two above replace (issue 21): refused rather than silently ignored.
refuse_renamed(
    {"EXCHANGE_MONTHLY_FETCH_DAY": "PECGM_POLL_FROM_DAY", "EXCHANGE_ALERT_DAY": "PECGM_ALERT_AFTER_DAY"}
)
# Also email the admins (with an email address) when a run fails or the stock is late.
EXCHANGE_ALERT_EMAIL = env_bool("EXCHANGE_ALERT_EMAIL", False)


def _beat_schedule() -> dict:
    hour = EXCHANGE_SCHEDULE_HOUR
    entries = {
        # Every day: with until_imported, the task fetches only from PECGM_POLL_FROM_DAY until
        # the month's stock is imported (exchanges.tasks.monthly_stock_due).
        "pecgm-monthly-stock": (
            EXCHANGE_MONTHLY_FETCH,
            "exchanges.tasks.fetch_pecgm",
            crontab(minute=0, hour=hour),
            {"periodicities": ["M"], "started_by": "beat", "until_imported": True},
        ),
        "pecgm-daily-flux": (
            EXCHANGE_DAILY_FETCH,
            "exchanges.tasks.fetch_pecgm",
            crontab(minute=30, hour=hour),
            {"periodicities": ["Q", "H"], "started_by": "beat"},
        ),
        "cgpem-monthly-stock": (
            EXCHANGE_MONTHLY_DEPOSIT,
            "exchanges.tasks.deposit_cgpem",
            crontab(minute=15, hour=hour, day_of_month=EXCHANGE_MONTHLY_DEPOSIT_DAY),
            {"periodicity": "M", "started_by": "beat"},
        ),
        "cgpem-daily-flux": (
            EXCHANGE_DAILY_DEPOSIT,
            "exchanges.tasks.deposit_cgpem",
            crontab(minute=45, hour=hour),
            {"periodicity": "Q", "started_by": "beat"},
        ),
    }
    return {
        name: {"task": task, "schedule": schedule, "kwargs": kwargs}
        for name, (enabled, task, schedule, kwargs) in entries.items()
        if enabled
    }


CELERY_BEAT_SCHEDULE = _beat_schedule()
# The reaper (exchanges/reaper.py): runs a fault left « en cours » or « en attente ».
CELERY_BEAT_SCHEDULE["exchange-reaper"] = {
    "task": "exchanges.tasks.reap_exchanges",
    "schedule": EXCHANGE_REAPER_MINUTES * 60,
}
# Retention purge (issue 7, rights/retention.py): every night, outside the exchanges' hours.
RETENTION_PURGE_HOUR = env_int("RETENTION_PURGE_HOUR", 3, minimum=0, maximum=23)


def _retention_beat_entry() -> dict:
    return {"task": "audit.tasks.purge_data", "schedule": crontab(minute=20, hour=RETENTION_PURGE_HOUR)}


CELERY_BEAT_SCHEDULE["retention-purge"] = _retention_beat_entry()

# The weekly « Nouveautés » e-mail (caseloads.digest), for the users who asked for it: Monday,
# at this hour. SITE_URL: the address users open the application at, for the link in it.
DIGEST_HOUR = env_int("DIGEST_HOUR", 7, minimum=0, maximum=23)
SITE_URL = env_str("SITE_URL").rstrip("/")
if SITE_URL and not SITE_URL.startswith(("https://", "http://")):
    raise ImproperlyConfigured("SITE_URL must start with https:// (or http:// on a test machine)")


def _digest_beat_entry() -> dict:
    return {
        "task": "caseloads.tasks.weekly_digest",
        "schedule": crontab(minute=0, hour=DIGEST_HOUR, day_of_week="mon"),
    }


CELERY_BEAT_SCHEDULE["weekly-digest"] = _digest_beat_entry()

# --- Logging --------------------------------------------------------------------

LOG_LEVEL = env_choice("LOG_LEVEL", "INFO", ["DEBUG", "INFO", "WARNING", "ERROR"])
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    # Safety net: a NIR that slipped into a log message is masked on its way out.
    "filters": {"mask_personal_data": {"()": "audit.logfilter.MaskPersonalDataFilter"}},
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": "plain",
            "filters": ["mask_personal_data"],
        }
    },
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {"django.db.backends": {"level": "WARNING"}},
}

EMAIL_BACKEND = env_str("EMAIL_BACKEND", "django.core.mail.backends.console.EmailBackend")
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", "liaison-rsa@localhost")
# The Département's mail relay, for the SMTP backend (exchange alerts, EXCHANGE_ALERT_EMAIL).
EMAIL_HOST = env_str("EMAIL_HOST", "localhost")
EMAIL_PORT = env_int("EMAIL_PORT", 25, minimum=1, maximum=65535)
EMAIL_HOST_USER = env_str("EMAIL_HOST_USER")
EMAIL_HOST_PASSWORD = env_str("EMAIL_HOST_PASSWORD")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", False)
EMAIL_USE_SSL = env_bool("EMAIL_USE_SSL", False)
if EMAIL_USE_TLS and EMAIL_USE_SSL:
    raise ImproperlyConfigured("EMAIL_USE_TLS and EMAIL_USE_SSL exclude each other: set one of them")
EMAIL_TIMEOUT = env_int("EMAIL_TIMEOUT", 10, minimum=1, maximum=300)
