"""What every provider adapter is: its declared capabilities, its typed errors, the one HTTP
client base (session, timeouts, call log with secrets redacted) and the reconciliation the
delivery code asks of it."""

import base64
import binascii
import html
import json
import logging
import re
import threading
import time
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime
from urllib.parse import quote, quote_plus
from xml.sax.saxutils import escape as xml_escape

import requests
from django.utils import timezone
from urllib3.exceptions import NewConnectionError

from subscriptions.common.errors import PortalError
from subscriptions.models import OutboundMessage, ProviderCall

logger = logging.getLogger("subscriptions.providers")

REDACTED = "[redacted]"
DEFAULT_CONNECT_TIMEOUT = 5.0
DEFAULT_READ_TIMEOUT = 15.0
LOG_BODY_LIMIT = 10_000


class ProviderError(PortalError):
    """A provider call failed. `retryable` tells the delivery code whether to try again;
    `maybe_applied` that the provider may have applied the request all the same (it got it
    but its answer was lost or a 5xx), so the change's outcome there is unknown."""

    retryable = False

    def __init__(self, message, *, retry_after=None, maybe_applied=False):
        super().__init__(message)
        self.retry_after = retry_after
        self.maybe_applied = maybe_applied


class RetryableError(ProviderError):
    """Timeouts, 5xx, rate limits: try again later (after `retry_after` seconds if set)."""

    retryable = True


class PermanentError(ProviderError):
    """Bad credentials, unknown keyword, invalid number: retrying cannot help."""


@dataclass(frozen=True)
class Capabilities:
    keyword_opt_out: bool = False
    code_opt_out: bool = False
    keyword_opt_in: bool = False
    send_text: bool = False
    lookup: bool = False
    postbacks: bool = False


@dataclass
class Reconciliation:
    """What one provider account must be told about one (contact, short code).

    `desired` maps program keyword ids to "opted in at the portal?"; `known` to the state
    last delivered to (or learned from) the provider: True, False, or None = unknown (e.g.
    the provider applied a handset's STOP around a delivery of ours). A program absent from
    `known` was never told: its state at the provider is unknown too, because brands bring
    providers that held their numbers before the portal came and numbers join at providers
    through channels that never reach the portal. For the programs the portal holds out by a
    decision (`decided_out`: an opt-out or an active STOP on the code) that unknown state
    sends the opt-out; for the others there is nothing the portal could say, so opt-ins
    behave as before. `quiet` holds the never-told programs whose opt-out came from a bulk
    source (an import): their opt-out must not text the person, so it goes by a non-texting
    path where the provider has one and otherwise stays local (listed for the provider's
    own import).
    `keywords` holds every program keyword of the account on the code, by id;
    `other_accounts_in` the words of other accounts' programs on the code still opted in.
    Adapters record in `reached` (via `arrived`) each change the provider accepted, so that
    after a failure part way the retry repeats only what did not arrive.
    """

    contact: object
    short_code: object
    account: object
    keywords: dict
    desired: dict
    known: dict
    stop_keyword: object = None
    other_accounts_in: list = field(default_factory=list)  # opted-in words of other accounts
    decided_out: frozenset = frozenset()
    quiet: frozenset = frozenset()
    reached: dict = field(init=False)

    def __post_init__(self):
        self.reached = dict(self.known)

    def arrived(self, keywords, opted_in):
        """The provider accepted this change for these program keywords."""
        self.reached.update((kw.pk, opted_in) for kw in keywords)

    def outcome_unknown(self):
        """An answer that does not tell whether the provider applied the request: every
        change not known to have arrived may have, or not. Unknown makes the next delivery
        send the portal's state for them whichever way it is then."""
        self.reached = self._unsettled(self.reached)

    def settled(self):
        """The provider's state after a reconciliation that succeeded: the portal's for every
        program it was told before, what arrived for the others; a program it was never told
        about and nothing was sent for stays never told (unknown), so that a later opt-out,
        a person's own STOP, is still sent to it."""
        return {
            pk: self.reached[pk] if pk in self.reached and pk not in self.known else wanted
            for pk, wanted in self.desired.items()
            if pk in self.known or pk in self.reached
        }

    def in_flight(self):
        """The provider's state while this reconciliation runs: each change it is about to
        make is unknown until its answer comes (kept as such if the worker dies)."""
        return self._unsettled(self.known)

    def _unsettled(self, state):
        return {
            **state,
            **{
                pk: None
                for pk, wanted in self.desired.items()
                if self._state_in(state, pk) != wanted
            },
        }

    def _state_in(self, state, keyword_id):
        if keyword_id in state:
            return state[keyword_id]
        # Never told: unknown. Only an opt-out the portal decided has something to send.
        return None if keyword_id in self.decided_out else False

    def _known(self, keyword_id):
        return self._state_in(self.known, keyword_id)

    def never_told(self, keyword):
        return keyword.pk not in self.known

    @property
    def joined(self):
        return [
            kw
            for pk, kw in self.keywords.items()
            if self.desired.get(pk, False) and self._known(pk) is not True
        ]

    @property
    def left(self):
        return [
            kw
            for pk, kw in self.keywords.items()
            if not self.desired.get(pk, False) and self._known(pk) is not False
        ]

    @property
    def left_loudly(self):
        """The programs to leave whose opt-out may text the person (not `quiet`)."""
        return [kw for kw in self.left if kw.pk not in self.quiet]

    @property
    def any_in(self):
        return any(self.desired.values())

    @property
    def was_any_in(self):
        """Whether the provider holds the number on the code: True, False or None (unknown)."""
        values = [self._known(pk) for pk in self.keywords]
        if True in values:
            return True
        return None if None in values else False

    @property
    def digits(self):
        """The number as SFMC, WhatCounts and SkyCore want it: digits with country code."""
        return self.contact.phone.lstrip("+")


@dataclass
class Reconciled:
    """What a reconciliation did: `sent` describes provider calls, `local` explains what the
    provider cannot be told (the portal enforces it through sendability)."""

    sent: list = field(default_factory=list)
    local: list = field(default_factory=list)

    @property
    def local_only(self):
        return bool(self.local) and not self.sent

    def describe(self):
        lines = [*self.sent, *(f"local only: {reason}" for reason in self.local)]
        return "\n".join(lines) or "nothing to change at the provider"


# Values of these JSON keys are secret whatever they are (tokens issued by the provider).
SECRET_JSON_VALUES = re.compile(
    r'("(?:access_token|refresh_token|client_secret|password|api_key)"\s*:\s*")[^"]*"'
)


BASIC_AUTH = re.compile(r"(Basic\s+)([A-Za-z0-9+/=_-]{4,})")


def encodings(secret):
    """Every form in which `secret` can appear in a request, an answer or a log line: raw,
    JSON-escaped, XML/HTML-escaped, repr()-escaped, and each of those URL-encoded (form and
    path style, either hex case): a SkyCore key is XML-escaped inside a URL-encoded form."""
    escaped = {
        secret,
        json.dumps(secret)[1:-1],
        json.dumps(secret, ensure_ascii=False)[1:-1],
        html.escape(secret),
        html.escape(secret, quote=False),
        xml_escape(secret),
        repr(secret)[1:-1],
    }
    forms = set(escaped)
    for form in escaped:
        forms |= {quote(form, safe=""), quote(form, safe="/"), quote_plus(form)}
        forms |= {quote_plus(form, safe="/")}
    forms |= {form.lower() for form in list(forms) if "%" in form}  # %2f as well as %2F
    return sorted((f for f in forms if f), key=len, reverse=True)


def _redact_basic(match, secrets):
    try:
        decoded = base64.b64decode(match.group(2) + "==", validate=False).decode("utf-8", "replace")
    except (binascii.Error, ValueError):
        return match.group(0)
    if any(secret and secret in decoded for secret in secrets):
        return match.group(1) + REDACTED
    return match.group(0)


def redact(text, secrets):
    """`text` with every secret masked, in every encoding (`encodings`), and the secret of
    any HTTP Basic credentials that hold one."""
    secrets = [str(s) for s in secrets if s]
    text = SECRET_JSON_VALUES.sub(rf'\1{REDACTED}"', text)
    text = BASIC_AUTH.sub(lambda m: _redact_basic(m, secrets), text)
    forms = sorted({f for secret in secrets for f in encodings(secret)}, key=len, reverse=True)
    for form in forms:
        text = text.replace(form, REDACTED)
    return text


def redacted(error, account):
    """`error` with the account's secrets masked: its message goes to logs, outbox rows and
    the admin, and a provider may echo what it was sent in its error answers."""
    error.args = (redact(str(error), [str(v) for v in account.secrets.values()]),)
    return error


def _refused(exc):
    """A connection that was never made (refused, no route, DNS): the request was not sent."""
    return isinstance(exc, requests.ConnectionError) and any(
        isinstance(arg, NewConnectionError)
        or isinstance(getattr(arg, "reason", None), NewConnectionError)
        for arg in exc.args
    )


def retry_after_seconds(response):
    """Retry-After as seconds (it may be a number or an HTTP date); None when absent."""
    value = response.headers.get("Retry-After")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        return max(0.0, (parsedate_to_datetime(value) - timezone.now()).total_seconds())
    except (TypeError, ValueError):
        return None


class Adapter:
    """One provider account's client. Subclasses declare `kind` and `capabilities`.

    `sync` / `message` link the HTTP call log rows to what caused them. With `call_log` (a
    list) the rows are collected there, unsaved, for the caller to write with the result of
    the work they belong to (delivery/record.py: one transaction instead of one per call).
    """

    kind = ""
    capabilities = Capabilities()

    def __init__(self, account, *, sync=None, message=None, call_log=None):
        self.account = account
        self.sync = sync
        self.message = message
        self.call_log = call_log

    def reconcile(self, rec: Reconciliation) -> "Reconciled":
        """Bring the provider in line with `rec.desired`; raise ProviderError on failure."""
        raise NotImplementedError

    def send_text(self, message: OutboundMessage) -> str:
        """Send an OutboundMessage; return a short description of what was done."""
        raise PermanentError(f"{self.account.kind} cannot send texts through the portal.")

    def test_connection(self) -> str:
        """One harmless authenticated call (it changes nothing at the provider and texts
        nobody), logged as a ProviderCall like any other; return what the provider said,
        raise ProviderError when it refused. Never call it inside a transaction."""
        raise PermanentError(f"{self.account.kind} has no connection to test.")


_local = threading.local()


def _session(account_id):
    """One requests.Session per provider account per worker thread, so that connections
    (and their TLS handshakes) are reused from one delivery to the next."""
    sessions = _local.__dict__.setdefault("sessions", {})
    if account_id not in sessions:
        sessions[account_id] = requests.Session()
    return sessions[account_id]


class HttpAdapter(Adapter):
    """Base of the adapters that talk HTTP: one requests.Session per adapter, connect/read
    timeouts from the account settings, a ProviderCall row per call, typed errors."""

    def __init__(self, account, **links):
        super().__init__(account, **links)
        self.session = _session(account.pk)
        settings = account.settings or {}
        self.timeout = (
            float(settings.get("connect_timeout", DEFAULT_CONNECT_TIMEOUT)),
            float(settings.get("read_timeout", DEFAULT_READ_TIMEOUT)),
        )
        self._secrets = account.secrets
        self.extra_secrets = set()

    def secret(self, name):
        value = self._secrets.get(name)
        if not value:
            raise PermanentError(
                f"The {self.account.kind} account {self.account.name!r} has no {name} secret set."
            )
        return value

    def call(self, method, url, **kwargs):
        """One logged HTTP call. Transport failures and 5xx are retryable, 429 carries its
        Retry-After; other statuses are returned for the adapter to interpret."""
        request = self.session.prepare_request(requests.Request(method, url, **kwargs))
        started = time.monotonic()
        response = error = None
        try:
            response = self.session.send(request, timeout=self.timeout)
        except requests.ConnectTimeout as exc:  # nothing was sent
            error = RetryableError(f"cannot reach {self.account.kind}: {exc}")
        except requests.Timeout as exc:  # sent; the provider may be applying it still
            error = RetryableError(
                f"timeout calling {self.account.kind}: {exc}", maybe_applied=True
            )
        except requests.RequestException as exc:
            error = RetryableError(
                f"cannot reach {self.account.kind}: {exc}", maybe_applied=not _refused(exc)
            )
        elapsed_ms = int((time.monotonic() - started) * 1000)
        self._log(request, response, error, elapsed_ms)
        if error is not None:
            raise error
        if response.status_code == 429:
            raise RetryableError(
                f"{self.account.kind} rate limit (429)", retry_after=retry_after_seconds(response)
            )
        if response.status_code >= 500:
            raise RetryableError(
                f"{self.account.kind} answered {response.status_code}",
                retry_after=retry_after_seconds(response),
                maybe_applied=True,
            )
        return response

    def _log(self, request, response, error, elapsed_ms):
        secrets = [str(v) for v in self._secrets.values()] + list(self.extra_secrets)
        body = request.body or ""
        if isinstance(body, bytes):
            body = body.decode("utf-8", "replace")
        url = redact(request.url, secrets)
        logged = ProviderCall(
            provider=self.account,
            sync=self.sync,
            message=self.message,
            method=request.method,
            url=url,
            request_body=redact(body or "", secrets)[:LOG_BODY_LIMIT],
            status_code=response.status_code if response is not None else None,
            response_body=redact(response.text, secrets)[:LOG_BODY_LIMIT]
            if response is not None
            else "",
            elapsed_ms=elapsed_ms,
            error=redact(str(error), secrets) if error else "",
        )
        if self.call_log is None:
            logged.save()
        else:
            self.call_log.append(logged)
        logger.info(
            "%s %s %s -> %s in %d ms",
            self.account.kind,
            request.method,
            url,
            response.status_code if response is not None else error,
            elapsed_ms,
        )
