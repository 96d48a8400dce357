"""The SSRF guard: which webhook URLs and addresses the portal may post to.

https only; every address the host name resolves to must be public (not private, loopback,
link-local, shared, multicast, reserved or unspecified). Checked when an endpoint is saved
and again at every delivery, and the delivery connects to the very address that was checked
(no second lookup a rebinding DNS server could answer differently).
PORTAL_WEBHOOKS_ALLOW_PRIVATE=1 (development and tests) lifts the address rule and allows http.
"""

import ipaddress
import socket
from dataclasses import dataclass
from urllib.parse import urlsplit

from django.conf import settings
from django.core.exceptions import ValidationError

from subscriptions.common.errors import PortalError

DEFAULT_PORTS = {"https": 443, "http": 80}


class UnsafeURL(PortalError, ValueError):
    """A URL the portal refuses to post to; `code` names the rule."""

    def __init__(self, message, code):
        super().__init__(message)
        self.code = code


@dataclass(frozen=True)
class Target:
    """A checked URL: where to connect (`addresses`) and what to ask for."""

    scheme: str
    host: str
    port: int
    path: str  # path and query, as sent in the request line
    addresses: tuple[str, ...]

    @property
    def host_header(self):
        default = DEFAULT_PORTS[self.scheme] == self.port
        host = f"[{self.host}]" if ":" in self.host else self.host
        return host if default else f"{host}:{self.port}"


def allow_private() -> bool:
    return bool(getattr(settings, "PORTAL_WEBHOOKS_ALLOW_PRIVATE", False))


def resolve(host: str, port: int) -> list[str]:
    """Every address `host` resolves to (tests replace this function)."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(info[4][0] for info in infos))


def is_public(address: str) -> bool:
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if ip.version == 6 and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_global and not ip.is_multicast


def parse(url: str) -> tuple[str, str, int, str]:
    """(scheme, host, port, path) of an acceptable URL, or UnsafeURL."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise UnsafeURL(f"Not a valid URL: {exc}.", "invalid") from exc
    schemes = ("https", "http") if allow_private() else ("https",)
    if parts.scheme not in schemes:
        raise UnsafeURL("Webhook URLs must use https.", "scheme")
    if not parts.hostname:
        raise UnsafeURL("The URL has no host.", "invalid")
    if parts.username or parts.password:
        raise UnsafeURL("Credentials in the URL are not accepted.", "invalid")
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    return parts.scheme, parts.hostname, port or DEFAULT_PORTS[parts.scheme], path


def check(url: str) -> Target:
    """Resolve and check `url`; the Target carries the addresses to connect to."""
    scheme, host, port, path = parse(url)
    try:
        addresses = resolve(host, port)
    except (OSError, UnicodeError, ValueError) as exc:
        raise UnsafeURL(f"The host {host!r} does not resolve.", "unresolvable") from exc
    if not addresses:
        raise UnsafeURL(f"The host {host!r} does not resolve.", "unresolvable")
    if not allow_private():
        unsafe = [address for address in addresses if not is_public(address)]
        if unsafe:
            raise UnsafeURL(
                f"The host {host!r} resolves to a private, loopback or link-local "
                f"address ({unsafe[0]}).",
                "unsafe_address",
            )
    return Target(scheme, host, port, path, tuple(addresses))


def validate_webhook_url(value: str) -> None:
    """Model validator (admin, API and any other writer agree)."""
    try:
        check(value)
    except UnsafeURL as exc:
        raise ValidationError(str(exc), code=exc.code) from exc
