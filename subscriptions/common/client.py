"""The address of the client that sent a request: the one helper every view, admin action
and history row uses, so a portal behind a reverse proxy records the person, not the proxy.

Behind PORTAL_PROXY_HOPS trusted reverse proxies the client is the address the outermost of
them saw: X-Forwarded-For counted from the right, so a value the client wrote itself is
never taken. Without proxies it is the socket's peer. Anything that is not an IP address
(a unix socket path, an empty value, garbage in the header) gives None.
"""

import ipaddress

from django.conf import settings
from django.http import HttpRequest


def client_address(request: HttpRequest) -> str | None:
    hops = settings.PORTAL_PROXY_HOPS
    forwarded = [a.strip() for a in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",")]
    candidate = forwarded[-hops] if hops and len(forwarded) >= hops else None
    for address in (candidate, request.META.get("REMOTE_ADDR")):
        try:
            return str(ipaddress.ip_address(address or ""))
        except ValueError:
            continue
    return None


def user_agent(request: HttpRequest) -> str:
    return request.META.get("HTTP_USER_AGENT", "")[:500]
