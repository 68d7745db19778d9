"""`manage.py check --deploy`: what the application cannot enforce on its own (issue 26)."""

from __future__ import annotations

from pathlib import Path

from django.conf import settings
from django.core.checks import Tags, Warning, register

from config.private_data import open_to_others


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


@register(Tags.security, deploy=True)
def check_trusted_proxies(app_configs=None, **kwargs) -> list[Warning]:
    """X-Forwarded-For is read from no one: every client shares the proxy's address."""
    if settings.TRUSTED_PROXY_COUNT and not settings.TRUSTED_PROXIES:
        return [
            Warning(
                "TRUSTED_PROXY_COUNT is set but TRUSTED_PROXIES is empty: X-Forwarded-For is ignored.",
                hint="List the reverse proxies' addresses in TRUSTED_PROXIES (CIDR).",
                id="liaison.W002",
            )
        ]
    return []
