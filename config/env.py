"""Strict, typed readers for environment variables.

django-environ parses URLs well but is lenient with scalars (any unknown
string is a false boolean). A misspelt value in production must stop start-up
with the variable's name instead of silently meaning something else.
"""

from __future__ import annotations

import ipaddress
import os
import re
from collections.abc import Callable, Iterable
from typing import TypeVar

import environ
from django.core.exceptions import ImproperlyConfigured

_TRUE = {"1", "true", "yes", "on"}
Number = TypeVar("Number", int, float)
_FALSE = {"0", "false", "no", "off"}


def _raw(name: str) -> str | None:
    value = os.environ.get(name)
    if value is None or value.strip() == "":
        return None
    return value.strip()


def refuse_renamed(renamed: dict[str, str]) -> None:
    """Stop start-up when a variable that was renamed (old name → new name) is still set.

    Silently ignored, the old name would leave its old value in force without anyone knowing.
    """
    for old, new in renamed.items():
        if _raw(old) is not None:
            raise ImproperlyConfigured(f"{old} is replaced by {new} (see .env.example): rename it")


def env_str(name: str, default: str = "") -> str:
    value = _raw(name)
    return default if value is None else value


def env_bool(name: str, default: bool) -> bool:
    value = _raw(name)
    if value is None:
        return default
    if value.lower() in _TRUE:
        return True
    if value.lower() in _FALSE:
        return False
    raise ImproperlyConfigured(f"{name}={value!r} is not a boolean: use one of {sorted(_TRUE | _FALSE)}")


def env_int(name: str, default: int, *, minimum: int | None = None, maximum: int | None = None) -> int:
    return _env_number(name, default, int, "a whole number", minimum, maximum)


def env_float(
    name: str, default: float, *, minimum: float | None = None, maximum: float | None = None
) -> float:
    return _env_number(name, default, float, "a number", minimum, maximum)


def _env_number(
    name: str,
    default: Number,
    parse: Callable[[str], Number],
    kind: str,
    minimum: Number | None,
    maximum: Number | None,
) -> Number:
    """`parse` of the variable (default when unset), within the bounds; else a message naming it."""
    value = _raw(name)
    if value is None:
        return default
    try:
        number = parse(value)
    except ValueError:
        raise ImproperlyConfigured(f"{name}={value!r} is not {kind}") from None
    if minimum is not None and number < minimum:
        raise ImproperlyConfigured(f"{name}={number} is below the minimum {minimum}")
    if maximum is not None and number > maximum:
        raise ImproperlyConfigured(f"{name}={number} is above the maximum {maximum}")
    return number


def env_choice(name: str, default: str, choices: Iterable[str]) -> str:
    allowed = list(choices)
    value = env_str(name, default)
    if value not in allowed:
        raise ImproperlyConfigured(f"{name}={value!r} must be one of {allowed}")
    return value


def env_list(name: str, default: list[str] | None = None) -> list[str]:
    value = _raw(name)
    if value is None:
        return list(default or [])
    return [item.strip() for item in value.split(",") if item.strip()]


def env_networks(
    name: str, default: list[str] | None = None
) -> list[ipaddress.IPv4Network | ipaddress.IPv6Network]:
    """A comma-separated list of addresses or CIDR networks (`10.0.0.5, 172.16.0.0/12, ::1`)."""
    networks = []
    for item in env_list(name, default):
        try:
            networks.append(ipaddress.ip_network(item, strict=False))
        except ValueError:
            raise ImproperlyConfigured(
                f"{name}: {item!r} is not an IP address or network (e.g. 10.0.0.5 or 172.16.0.0/12)"
            ) from None
    return networks


def env_db(name: str, default: str) -> dict:
    value = env_str(name, default)
    try:
        config = environ.Env.db_url_config(value)
    except Exception as exc:  # environ raises several types for a bad URL
        raise ImproperlyConfigured(f"{name} is not a valid database URL: {exc}") from None
    if not config.get("ENGINE"):
        raise ImproperlyConfigured(f"{name}: unsupported database scheme")
    return config


# An INSEE département code: 01…19, 21…95, 2A, 2B (Corsica: there is no 20 since 1976),
# 971…976, with or without the files' left zero (`082`). ASCII digits only: `\d` would let
# other scripts' digits through.
_DEPARTEMENT = re.compile(r"^(0?(0[1-9]|1[0-9]|2[1-9AB]|[3-8][0-9]|9[0-5])|97[1-6])$", re.ASCII)


def departement_code(value: str | None) -> str | None:
    """`082` → `82`, `02a` → `2A`, `971` → `971`; None when it is not a département code.

    The one rule for the setting and for the codes the files carry (contract.file_names,
    exchanges.pecgm_reader); contract.departement pads the other way.
    """
    text = (value or "").strip().upper()
    if not _DEPARTEMENT.match(text):
        return None
    return text[1:] if len(text) == 3 and text.startswith("0") else text


def env_departement(name: str, default: str) -> str:
    """The INSEE code of a département, normalised without the left padding (`082` → `82`)."""
    value = env_str(name, default)
    code = departement_code(value)
    if code is None:
        raise ImproperlyConfigured(f"{name}={value!r} is not a département code (01…95, 2A, 2B, 971…976)")
    return code
