"""The client's address, for the lockout counter and the audit log.

Behind the TLS-terminating proxy, REMOTE_ADDR is the proxy's address: the
client's is in X-Forwarded-For. Only the entries appended by our own proxies
(the right-most TRUSTED_PROXY_COUNT) can be trusted; the left part is
whatever the client sent.
"""

from __future__ import annotations

import ipaddress

from django.conf import settings
from django.http import HttpRequest


def _valid(address: str | None) -> str | None:
    if not address:
        return None
    try:
        return str(ipaddress.ip_address(address.strip()))
    except ValueError:
        return None


def client_ip(request: HttpRequest) -> str | None:
    count = getattr(settings, "TRUSTED_PROXY_COUNT", 0)
    forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "")
    if count and forwarded:
        hops = [hop.strip() for hop in forwarded.split(",") if hop.strip()]
        if len(hops) >= count:
            address = _valid(hops[-count])
            if address:
                return address
    return _valid(request.META.get("REMOTE_ADDR"))


def client_str(username, ip_address, user_agent, path_info, request) -> str:
    """How django-axes names a client in its log lines: the address only, never the typed name."""
    return f"ip={ip_address}"
