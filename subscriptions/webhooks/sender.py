"""One signed POST to a checked address: no redirects, short timeouts, bounded reads.

The connection goes to the address the SSRF guard checked (urllib3 with the IP as the pool's
host, the name only for TLS SNI, certificate check and the Host header), so a DNS answer
that changes between the check and the connect cannot redirect it. No proxy from the
environment is used.
"""

import threading
import time
from dataclasses import dataclass

import urllib3
from django.conf import settings
from urllib3.util import Timeout

from subscriptions.webhooks.ssrf import Target

MAX_RESPONSE_BYTES = 4096  # kept for staff to read; the rest of a large answer is dropped
USER_AGENT = "sms-consent-portal-webhooks/1"
CA_CERTS = None  # the system's trust store; tests point it at their own CA
# Kept-alive connections per checked address, reused by every delivery of the process (a
# pool per address, keyed by everything the connection depends on).
_pools: dict[tuple, urllib3.HTTPConnectionPool] = {}
_pools_lock = threading.Lock()


@dataclass(frozen=True)
class Answer:
    status_code: int | None
    error: str = ""
    retry_after: float | None = None

    @property
    def ok(self):
        return self.status_code is not None and 200 <= self.status_code < 300


def _pool(target: Target, address: str, timeout: float):
    key = (target.scheme, target.host, target.port, address, timeout, CA_CERTS)
    pool = _pools.get(key)
    if pool is None:
        with _pools_lock:
            pool = _pools.get(key)
            if pool is None:
                if len(_pools) > 256:
                    _pools.clear()
                pool = _pools[key] = _new_pool(target, address)
    return pool


def _new_pool(target: Target, address: str):
    """As many kept connections as the process has sender threads; a pool never blocks."""
    options = {
        "maxsize": max(1, settings.PORTAL_WEBHOOKS_THREADS),
        "block": False,
        "retries": False,
    }
    if target.scheme == "https":
        return urllib3.HTTPSConnectionPool(
            address,
            target.port,
            server_hostname=target.host,
            assert_hostname=target.host,
            cert_reqs="CERT_REQUIRED",
            ca_certs=CA_CERTS,
            **options,
        )
    return urllib3.HTTPConnectionPool(address, target.port, **options)


def _retry_after(value):
    try:
        return max(0.0, float(value))
    except (TypeError, ValueError):
        return None


def post(target: Target, body: str, headers: dict[str, str], timeout: float) -> Answer:
    """POST `body`; tries the next checked address only when a connection cannot be made."""
    deadline = time.monotonic() + timeout
    sent_headers = {
        **headers,
        "Host": target.host_header,
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
    }
    error = "no address to connect to"
    for address in target.addresses[:3]:
        try:
            response = _pool(target, address, timeout).urlopen(
                "POST",
                target.path,
                body=body.encode(),
                headers=sent_headers,
                redirect=False,
                retries=False,
                assert_same_host=False,
                preload_content=False,
                timeout=Timeout(connect=min(3.0, timeout), read=timeout),
            )
        except (urllib3.exceptions.NewConnectionError, urllib3.exceptions.ConnectTimeoutError):
            error = f"cannot connect to {address} port {target.port}"
            continue
        except urllib3.exceptions.HTTPError as exc:
            return Answer(None, error=f"{type(exc).__name__}: {_reason(exc)}")
        try:
            snippet = _read_bounded(response, deadline)
        except (urllib3.exceptions.HTTPError, OSError) as exc:
            snippet = f"(answer not read: {type(exc).__name__})"
        status = response.status
        return Answer(
            status,
            error="" if 200 <= status < 300 else f"HTTP {status}: {snippet}"[:500],
            retry_after=_retry_after(response.headers.get("Retry-After")),
        )
    return Answer(None, error=error)


def _read_bounded(response, deadline):
    """At most MAX_RESPONSE_BYTES, and never past the attempt's deadline; a connection
    whose answer was not read to its end is closed rather than reused."""
    chunks, size, complete = [], 0, False
    try:
        while size < MAX_RESPONSE_BYTES and time.monotonic() < deadline:
            chunk = response.read1(MAX_RESPONSE_BYTES - size)
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
        complete = size < MAX_RESPONSE_BYTES and time.monotonic() < deadline
    finally:
        if complete:
            response.release_conn()
        else:
            response.close()
    return b"".join(chunks).decode("utf-8", "replace")


def _reason(exc):
    reason = getattr(exc, "reason", None)
    return str(reason or exc)[:300]
