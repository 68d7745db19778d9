"""The client's address, for the lockout counter and the audit log.

Behind the TLS-terminating proxy, REMOTE_ADDR is the proxy's address: the
client's is in X-Forwarded-For. Only the entries appended by our own proxies
(the right-most TRUSTED_PROXY_COUNT) can be trusted; the left part is
whatever the client sent. And the header is read only on a request that comes
from one of our proxies (TRUSTED_PROXIES), each hop between them too: sent
straight to the application, it is the client's word only.
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


def _trusted(address: str | None) -> bool:
    if address is None:
        return False
    ip = ipaddress.ip_address(address)
    return any(ip in network for network in getattr(settings, "TRUSTED_PROXIES", ()))


def client_ip(request: HttpRequest) -> str | None:
    remote = _valid(request.META.get("REMOTE_ADDR"))
    count = getattr(settings, "TRUSTED_PROXY_COUNT", 0)
    forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "")
    if count and forwarded and _trusted(remote):
        hops = [hop.strip() for hop in forwarded.split(",") if hop.strip()]
        # hops[-count] is the client as our outermost proxy saw it; the entries right of it are
        # our inner proxies, as each next one saw them: all must be ours.
        if len(hops) >= count and all(_trusted(_valid(hop)) for hop in hops[len(hops) - count + 1 :]):
            address = _valid(hops[-count])
            if address:
                return address
    return remote


def client_str(username, ip_address, user_agent, path_info, request) -> str:
    """How django-axes names a client in its log lines: the address only, never the typed name."""
    return f"ip={ip_address}"
