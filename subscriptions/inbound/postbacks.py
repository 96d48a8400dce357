"""SkyCore Opt-in Status Postbacks (SkyCore's Opt-in Postback API document, seed 003; see
docs/providers.md "SkyCore") into consent changes: parse the XML, find the
program (discovering an unknown campaign), apply it through `services`, and keep what
changed nothing where staff can see it."""

import hashlib
import logging
from dataclasses import dataclass
from datetime import datetime
from xml.etree.ElementTree import ParseError

from defusedxml import DefusedXmlException
from defusedxml import ElementTree as SafeElementTree

from subscriptions.common import times
from subscriptions.common.errors import PortalError
from subscriptions.common.phones import InvalidPhone, normalize
from subscriptions.consent import catalog, discovery, selectors, services
from subscriptions.consent.services import Context
from subscriptions.models import (
    PostbackProblem,
    Source,
    UnmatchedPostback,
)

logger = logging.getLogger("subscriptions.inbound.postbacks")


POSTBACK_MAX_BYTES = 64 * 1024  # a real postback is well under 1 KB
SUBSCRIBED, UNSUBSCRIBED = "N301", "N302"
PROVIDER_SOURCES = {
    "MANAGER": "SkyCore audience manager (staff import or manual change at SkyCore)",
    "API": "SkyCore API call",
    "MO": "text message to SkyCore",
    "WEB": "SkyCore mobile web landing page",
    "IMPORTED AS UNSUBSCRIBED": "SkyCore import refused by an earlier opt-out",
}


class PostbackRejected(PortalError, ValueError):
    """The postback cannot be applied as sent; the message says why (answered 400)."""

    def __init__(self, message, code="invalid_postback"):
        super().__init__(message)
        self.code = code


@dataclass(frozen=True)
class Postback:
    code: str
    phone: str  # E.164
    campaign_ref: str
    occurred_at: datetime
    short_code: str
    campaign_title: str
    brand_name: str
    source: str
    raw: str

    @property
    def digest(self):
        """Stable across SkyCore's retries of one notification (same fields, whatever the
        transport: raw body or form field)."""
        fields = (
            self.code,
            self.phone,
            self.campaign_ref,
            self.occurred_at.isoformat(),
            self.short_code,
            self.source,
        )
        return hashlib.sha256("\x1f".join(fields).encode()).hexdigest()


@dataclass(frozen=True)
class PostbackOutcome:
    status: str  # applied, no_change, stale, duplicate, unmatched
    keyword: str = ""
    discovered: bool = False


def parse_postback(xml, raw: str) -> Postback:
    """Parse and validate the XML (bytes or text). DTDs and entities are refused outright,
    which stops "billion laughs" and external-entity payloads before any expansion."""
    try:
        root = SafeElementTree.fromstring(xml, forbid_dtd=True)
    except DefusedXmlException as exc:
        raise PostbackRejected(f"Refused XML feature: {exc}.", "forbidden_xml") from exc
    except ParseError as exc:
        raise PostbackRejected(f"Malformed XML: {exc}.", "malformed_xml") from exc
    if root.tag != "POSTBACK":
        raise PostbackRejected(f"Expected a <POSTBACK> document, got <{root.tag}>.")
    field = _field_reader(root)
    if field("ORIGIN").upper() != "SUB":
        raise PostbackRejected("ORIGIN must be SUB (an Opt-in Status Postback).")
    code = field("CODE").upper()
    if code not in (SUBSCRIBED, UNSUBSCRIBED):
        raise PostbackRejected(f"CODE must be {SUBSCRIBED} or {UNSUBSCRIBED}, not {code!r}.")
    try:
        phone = normalize(field("MOBILE"))
    except InvalidPhone as exc:
        raise PostbackRejected(f"MOBILE: {exc}", "invalid_phone") from exc
    return Postback(
        code=code,
        phone=phone,
        campaign_ref=field("CAMPAIGNREF", limit=100),
        occurred_at=_postback_time(field("TIMESTAMP")),
        short_code=field("SHORTCODE", limit=20),
        campaign_title=field("CAMPAIGNTITLE", required=False, limit=120),
        brand_name=field("BRANDNAME", required=False, limit=100),
        source=field("SOURCE", required=False, limit=40).upper(),
        raw=raw,
    )


def _field_reader(root):
    def field(name, *, required=True, limit=64):
        value = (root.findtext(name) or "").strip()
        if not required:
            return value[:limit]  # descriptive only: never worth losing the change over
        if not value:
            raise PostbackRejected(f"{name} is missing.")
        if len(value) > limit:
            raise PostbackRejected(f"{name} is longer than {limit} characters.")
        return value

    return field


def _postback_time(text):
    """ISO 8601 with an offset (SkyCore sends "-04" as well as "-04:00"), in UTC and in the
    range of `common.times` (a far-future time would make every later change look stale)."""
    try:
        return times.parse(text, assume_utc=False)
    except times.BadTime as exc:
        raise PostbackRejected(f"TIMESTAMP {exc}") from None


def apply_postback(account, postback: Postback, remote_addr=None) -> PostbackOutcome:
    """Apply a parsed postback of `account`: N301 opts in, N302 opts out, through the
    services (which order by occurred_at and apply each notification once)."""
    short_code = selectors.short_code_by_code(postback.short_code)  # kept per process
    problem = _short_code_problem(account, short_code)
    if problem:
        record_unmatched(
            account, problem, postback.raw, remote_addr, short_code=postback.short_code
        )
        return PostbackOutcome("unmatched")
    keyword = catalog.program_by_ref(short_code.pk, account.pk, postback.campaign_ref)
    discovered = keyword is None
    if discovered:  # asks the database again, under the code's lock
        keyword = discovery.discover_program(
            short_code, account, postback.campaign_ref, postback.campaign_title
        )
    change = services.opt_in if postback.code == SUBSCRIBED else services.opt_out
    result = change(postback.phone, keyword, _postback_context(account, postback))
    status = "duplicate" if result.duplicate else str(result.outcome)
    return PostbackOutcome(status, keyword.word, discovered)


def _short_code_problem(account, short_code):
    if short_code is None:
        return PostbackProblem.UNKNOWN_SHORT_CODE
    serves = short_code.provider_id == account.pk or any(
        keyword.provider_id == account.pk for keyword in catalog.keywords_on(short_code.pk).items
    )
    return None if serves else PostbackProblem.FOREIGN_SHORT_CODE


def _postback_context(account, postback):
    return Context(
        source=Source.POSTBACK,
        occurred_at=postback.occurred_at,
        actor_label=f"{account.name} postback",
        raw_payload=postback.raw,
        external_id=f"skycore:{account.pk}:{postback.digest}",
        # The delivery code never sends an event back to the account it came from.
        origin_account_id=account.pk,
        detail={
            "provider_source": postback.source,
            "provider_source_label": PROVIDER_SOURCES.get(postback.source, "not documented"),
            "campaign_ref": postback.campaign_ref,
            "campaign_title": postback.campaign_title,
            "brand_name": postback.brand_name,
        },
    )


def record_unmatched(account, problem, raw, remote_addr, *, short_code="", reason=""):
    """Keep a postback that changed nothing where staff can see it (admin)."""
    reason = reason or PostbackProblem(problem).label
    logger.warning("postback for %s not applied (%s): %s", account.name, problem, reason)
    return UnmatchedPostback.objects.create(
        provider=account,
        problem=problem,
        reason=reason[:255],
        short_code=short_code[:40],
        raw_payload=raw,
        remote_addr=remote_addr,
    )
