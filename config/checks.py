"""`manage.py check --deploy`: the production guards, and what the application cannot enforce.

The guards (liaison.E0xx) are errors in production only: the embedded mode is a first run on
one machine. They are deployment checks, so `check --deploy` lists every one that fails with
its id, rather than stopping at the first; the production entry points (manage.py, the WSGI
application, the Celery worker and beat) refuse to start while one fails
(`refuse_unsafe_production`). A value that is malformed whatever the mode (not a boolean, not
an https:// URL…) is still refused when the settings are read (config/env.py).
The warnings (liaison.W0xx) are the operator's to weigh. docs/production.md lists them all.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from django.conf import settings
from django.core.checks import CheckMessage, Error, Tags, Warning, register
from django.core.exceptions import ImproperlyConfigured

from config.private_data import open_to_others

# Django's own check asks for 5 distinct characters; "changeme" repeated has 6. A random key
# has dozens (a hexadecimal one, 16).
SECRET_KEY_MIN_LENGTH = 50
SECRET_KEY_MIN_DISTINCT = 10

GUARDS: list[Callable[..., list[CheckMessage]]] = []


def guard(function: Callable[..., list[CheckMessage]]) -> Callable[..., list[CheckMessage]]:
    """A production guard: a deployment check, and one the production start runs."""
    GUARDS.append(function)
    return register(Tags.security, deploy=True)(function)


def _secret_key() -> str:
    try:
        return settings.SECRET_KEY
    except ImproperlyConfigured:  # Django's own refusal of an empty key
        return ""


@guard
def check_secret_key(app_configs=None, **kwargs) -> list[Error]:
    if not settings.PRODUCTION:
        return []
    key = _secret_key()
    if not key:
        return [
            Error(
                "SECRET_KEY must be set when APP_MODE=production",
                hint='python -c "import secrets; print(secrets.token_urlsafe(64))"',
                id="liaison.E001",
            )
        ]
    if (
        len(key) < SECRET_KEY_MIN_LENGTH
        or len(set(key)) < SECRET_KEY_MIN_DISTINCT
        or key.startswith("django-insecure")
    ):
        return [
            Error(
                "SECRET_KEY is too weak for production: use at least 50 random characters",
                hint='python -c "import secrets; print(secrets.token_urlsafe(64))"',
                id="liaison.E002",
            )
        ]
    return []


@guard
def check_debug(app_configs=None, **kwargs) -> list[Error]:
    if settings.PRODUCTION and settings.DEBUG:
        return [Error("DEBUG must be off when APP_MODE=production", id="liaison.E003")]
    return []


@guard
def check_allowed_hosts(app_configs=None, **kwargs) -> list[Error]:
    if not settings.PRODUCTION:
        return []
    if not settings.ALLOWED_HOSTS:
        return [
            Error(
                "ALLOWED_HOSTS must list the site's host names in production",
                hint="ALLOWED_HOSTS=rsa.departement.fr",
                id="liaison.E004",
            )
        ]
    if "*" in settings.ALLOWED_HOSTS:
        return [Error("ALLOWED_HOSTS must not contain '*' in production", id="liaison.E005")]
    return []


@guard
def check_database(app_configs=None, **kwargs) -> list[Error]:
    if not settings.PRODUCTION:
        return []
    engine = settings.DATABASES["default"]["ENGINE"]
    if engine == "django.db.backends.dummy":
        return [
            Error(
                "DATABASE_URL must be set when APP_MODE=production",
                hint="DATABASE_URL=postgres://user:password@host:5432/name",
                id="liaison.E006",
            )
        ]
    if engine != "django.db.backends.postgresql":
        return [Error("DATABASE_URL must point to PostgreSQL in production", id="liaison.E007")]
    return []


@guard
def check_redis(app_configs=None, **kwargs) -> list[Error]:
    if settings.PRODUCTION and not settings.REDIS_URL:
        return [
            Error(
                "REDIS_URL must be set when APP_MODE=production",
                hint="The broker of the worker and beat, and the shared cache and sessions.",
                id="liaison.E008",
            )
        ]
    return []


@guard
def check_trusted_proxies(app_configs=None, **kwargs) -> list[CheckMessage]:
    """X-Forwarded-For is read from no one: every client shares the proxy's address."""
    if not settings.TRUSTED_PROXY_COUNT or settings.TRUSTED_PROXIES:
        return []
    if settings.PRODUCTION:
        return [
            Error(
                "TRUSTED_PROXIES must list the reverse proxies' addresses (CIDR) when "
                "TRUSTED_PROXY_COUNT is set in production",
                hint="Set TRUSTED_PROXY_COUNT=0 if no proxy adds X-Forwarded-For.",
                id="liaison.E009",
            )
        ]
    return [
        Warning(
            "TRUSTED_PROXY_COUNT is set but TRUSTED_PROXIES is empty: X-Forwarded-For is ignored.",
            hint="List the reverse proxies' addresses in TRUSTED_PROXIES (CIDR).",
            id="liaison.W002",
        )
    ]


@guard
def check_exchange_server(app_configs=None, **kwargs) -> list[Error]:
    """The exchange server's credentials and certificate authorities, when it is configured."""
    if not settings.EXCHANGE_URL:
        return []
    errors = []
    if settings.PRODUCTION and not (settings.EXCHANGE_USERNAME and settings.EXCHANGE_PASSWORD):
        errors.append(
            Error(
                "EXCHANGE_USERNAME and EXCHANGE_PASSWORD must be set with EXCHANGE_URL in production",
                hint="The Basic credentials France Travail gave the Département.",
                id="liaison.E010",
            )
        )
    bundle = settings.EXCHANGE_CA_BUNDLE
    if bundle and not Path(bundle).is_file():
        errors.append(
            Error(
                f"EXCHANGE_CA_BUNDLE ({bundle}) is not a readable file: no exchange could be verified",
                hint="A PEM file of the authorities to trust, or nothing for the system's.",
                id="liaison.E011",
            )
        )
    return errors


@register(Tags.security, deploy=True)
def check_private_folders(app_configs=None, **kwargs) -> list[Warning]:
    """The data and exchange folders hold every NIR: nobody but the service account enters them."""
    warnings = []
    for name in ("DATA_DIR", "EXCHANGE_FILES_DIR"):
        path = Path(getattr(settings, name))
        if open_to_others(path):
            warnings.append(
                Warning(
                    f"{name} ({path}) is open to other accounts on this machine: it holds personal data.",
                    hint=f"chmod 700 {path} (owned by the service account).",
                    id="liaison.W001",
                )
            )
    return warnings


def production_errors() -> list[CheckMessage]:
    """The guards that fail (no application needs to be loaded to run them)."""
    return [message for check in GUARDS for message in check() if message.is_serious()]


def refuse_unsafe_production() -> None:
    """In production, stop the process while a guard fails: every failure, with its id."""
    if not settings.PRODUCTION:
        return
    errors = production_errors()
    if errors:
        raise ImproperlyConfigured(
            "unsafe production settings (python manage.py check --deploy lists them):\n"
            + "\n".join(f"{error.id}: {error.msg}" for error in errors)
        )
