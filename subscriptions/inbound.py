"""Inbound messages into consent changes: text messages from handsets (MO) and SkyCore
Opt-in Status Postbacks. Parsing and keyword choice live here; every change of state is a
call to `services`, which also refuses repeats (same external id) and stale events.
"""

import hashlib
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from xml.etree.ElementTree import ParseError

from defusedxml import DefusedXmlException
from defusedxml import ElementTree as SafeElementTree
from django.db import transaction
from django.utils import timezone

from subscriptions import delivery, messaging, rules, selectors, services
from subscriptions.models import (
    Action,
    Keyword,
    KeywordKind,
    MessagePurpose,
    Outcome,
    PostbackProblem,
    ShortCode,
    Source,
    Status,
    UnmatchedPostback,
)
from subscriptions.phones import InvalidPhone, normalize
from subscriptions.services import Context

logger = logging.getLogger("subscriptions.inbound")


# Text messages (MO) ------------------------------------------------------------------------


class MoAction(StrEnum):
    """The `action` values of POST /api/v1/inbound/ (docs/api.md)."""

    OPT_IN = "opt_in"
    OPT_OUT = "opt_out"
    STOP_ALL = "stop_all"
    CONFIRM = "confirm"
    HELP = "help"
    NONE = "none"


@dataclass(frozen=True)
class MoText:
    phone: str  # E.164
    short_code: ShortCode
    text: str
    message_id: str = ""
    received_at: datetime | None = None
    raw_payload: str = ""


@dataclass(frozen=True)
class MoOutcome:
    action: str
    reply: str | None  # None for a repeated message: its reply went out the first time
    changed: list  # [(keyword word, new status)]
    duplicate: bool = False


@transaction.atomic
def handle_mo(message: MoText, *, actor=None) -> MoOutcome:
    """Apply one text from a handset and queue exactly one reply, in one transaction so the
    reply exists if and only if the change does."""
    word = rules.first_word(message.text)
    keyword = _keyword_on_code(message.short_code, word)
    handler = _choose_handler(message, word, keyword)
    ctx = _mo_context(message, word, actor, _received_by(handler, message, keyword))
    action, result, reply = handler(message, keyword, ctx)
    if result.duplicate:
        return MoOutcome(action, None, [], duplicate=True)
    messaging.queue_text(message.phone, message.short_code, reply, MessagePurpose.REPLY)
    changed = [(e.keyword.word, e.new_status) for e in result.changed]
    return MoOutcome(action, reply, changed)


def _keyword_on_code(short_code, word):
    if not word:
        return None
    return (
        Keyword.objects.select_related("short_code__provider", "provider")
        .filter(short_code=short_code, word=word)
        .first()
    )


def _received_by(handler, message, keyword):
    """The provider account that applied this text itself before forwarding it, or None.
    A stop word texted to a short code is honoured by the provider that runs the code
    (CTIA), and a custom stop keyword by the account that owns it: sending the opt-out
    back would make that provider text the person a second confirmation (SFMC processes a
    queueMO STOP as a new STOP; WhatCounts' stop command sends a stop message)."""
    if handler is _stop_all:
        return message.short_code.provider_id
    if handler is _custom_stop:
        return keyword.account_id
    return None


def _mo_context(message, word, actor, received_by):
    # MO events occur "now" (docs/rules.md); the handset time is kept as evidence.
    detail = {"word": word}
    if received_by is not None:
        detail[delivery.ORIGIN_KEY] = received_by
    if message.received_at is not None:
        detail["received_at"] = message.received_at.isoformat()
    external_id = f"{message.short_code.code}:{message.message_id}" if message.message_id else ""
    return Context(
        source=Source.MO,
        actor=actor,
        external_id=external_id,
        raw_payload=message.raw_payload,
        detail=detail,
    )


def _choose_handler(message, word, keyword):
    """The keyword classes in precedence order: CTIA stop words beat everything; YES only
    confirms when something waits for confirmation, otherwise it is START."""
    kind = keyword.kind if keyword else None
    confirms = word in rules.YES_WORDS or kind == KeywordKind.CONFIRM
    if word in rules.STOP_WORDS:
        return _stop_all
    if kind == KeywordKind.STOP:
        return _custom_stop
    if confirms and services.pending_in_window(message.phone, message.short_code):
        return _confirm
    if word in rules.START_WORDS:
        return _restart
    if confirms:
        return _confirm
    if word in rules.HELP_WORDS or kind == KeywordKind.HELP:
        return _help
    if kind == KeywordKind.PROGRAM:
        return _join
    return _nothing


def _programs(events):
    return ", ".join(e.keyword.display_title for e in events)


def _stop_all(message, keyword, ctx):
    code = message.short_code
    result = services.stop_all(message.phone, code, ctx)
    return MoAction.STOP_ALL, result, code.render(code.stop_text)


def _custom_stop(message, keyword, ctx):
    code = message.short_code
    result = services.custom_stop(message.phone, keyword, ctx)
    return MoAction.OPT_OUT, result, code.render(code.stop_text)


def _confirm(message, keyword, ctx):
    code = message.short_code
    result = services.confirm(message.phone, code, ctx)
    confirmed = [e for e in result.changed if e.new_status == Status.OPTED_IN]
    expired = [
        e for e in result.events if e.outcome == Outcome.REFUSED and e.reason == rules.WINDOW_CLOSED
    ]
    if confirmed:
        reply = code.render(code.opt_in_text, program=_programs(confirmed))
    elif expired:
        words = " or ".join(e.keyword.word for e in expired)
        reply = code.render(code.confirm_expired_text, program=words)
    else:
        reply = code.render(code.help_text)
    return MoAction.CONFIRM, result, reply


def _restart(message, keyword, ctx):
    code = message.short_code
    result = services.restart(message.phone, code, ctx)
    restored = result.changed
    reply = (
        code.render(code.opt_in_text, program=_programs(restored))
        if restored
        else code.render(code.help_text)
    )
    return MoAction.OPT_IN, result, reply


def _help(message, keyword, ctx):
    code = message.short_code
    result = services.record(message.phone, code, Action.HELP, ctx, keyword=keyword)
    return MoAction.HELP, result, code.render(code.help_text)


def _join(message, keyword, ctx):
    code = message.short_code
    result = services.opt_in(message.phone, keyword, ctx)
    subscription = result.events[0].subscription if result.events else None
    status = subscription.status if subscription else None
    if status == Status.PENDING:
        reply = code.render(code.double_opt_in_prompt, program=keyword.display_title)
    elif status == Status.OPTED_IN:
        reply = code.render(code.opt_in_text, program=keyword.display_title)
    else:
        reply = code.render(code.help_text)
    return MoAction.OPT_IN, result, reply


def _nothing(message, keyword, ctx):
    code = message.short_code
    result = services.record(
        message.phone, code, Action.NONE, ctx, reason="not a keyword on this code"
    )
    # One reply per MO: the help text tells the person what they can text.
    return MoAction.NONE, result, code.render(code.help_text)


# SkyCore Opt-in Status Postbacks (seed 003) ------------------------------------------------

POSTBACK_MAX_BYTES = 64 * 1024  # a real postback is well under 1 KB
SUBSCRIBED, UNSUBSCRIBED = "N301", "N302"
# A postback stamped in the future would make every later change look stale.
CLOCK_SKEW = timedelta(minutes=10)
PROVIDER_SOURCES = {
    "MANAGER": "SkyCore audience manager (staff import or manual change at SkyCore)",
    "API": "SkyCore API call",
    "MO": "text message to SkyCore",
    "WEB": "SkyCore mobile web landing page",
    "IMPORTED AS UNSUBSCRIBED": "SkyCore import refused by an earlier opt-out",
}


class PostbackRejected(ValueError):
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
    """ISO 8601 with an offset; SkyCore sends "-04" as well as "-04:00"."""
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError as exc:
        raise PostbackRejected(f"TIMESTAMP {text!r} is not an ISO 8601 time.") from exc
    if timezone.is_naive(moment):
        raise PostbackRejected(f"TIMESTAMP {text!r} has no UTC offset.")
    if moment > timezone.now() + CLOCK_SKEW:
        raise PostbackRejected(f"TIMESTAMP {text!r} is in the future.")
    return moment


def apply_postback(account, postback: Postback, remote_addr=None) -> PostbackOutcome:
    """Apply a parsed postback of `account`: N301 opts in, N302 opts out, through the
    services (which order by occurred_at and apply each notification once)."""
    short_code = ShortCode.objects.filter(code=postback.short_code).first()
    problem = _short_code_problem(account, short_code)
    if problem:
        record_unmatched(
            account, problem, postback.raw, remote_addr, short_code=postback.short_code
        )
        return PostbackOutcome("unmatched")
    keyword = selectors.program_by_ref(short_code, account, postback.campaign_ref)
    discovered = keyword is None
    if discovered:
        keyword = services.discover_program(
            short_code, account, postback.campaign_ref, postback.campaign_title
        )
    change = services.opt_in if postback.code == SUBSCRIBED else services.opt_out
    result = change(postback.phone, keyword, _postback_context(account, postback))
    status = "duplicate" if result.duplicate else str(result.outcome)
    return PostbackOutcome(status, keyword.word, discovered)


def _short_code_problem(account, short_code):
    if short_code is None:
        return PostbackProblem.UNKNOWN_SHORT_CODE
    serves = (
        short_code.provider_id == account.pk
        or short_code.keywords.filter(provider=account).exists()
    )
    return None if serves else PostbackProblem.FOREIGN_SHORT_CODE


def _postback_context(account, postback):
    return Context(
        source=Source.POSTBACK,
        occurred_at=postback.occurred_at,
        actor_label=f"{account.name} postback",
        raw_payload=postback.raw,
        external_id=f"skycore:{account.pk}:{postback.digest}",
        detail={
            # The delivery code never sends an event back to the account it came from.
            "provider_account_id": account.pk,
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
