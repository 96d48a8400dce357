"""Text messages from handsets (MO) into consent changes. The precedence (stop words,
revocations in other words, keywords) is `consent.rules.mo_class`; every change of state
is a call to `services` (consent) or `revocations.services`, which also refuse repeats
(same external id) and stale events.

Replies: exactly one per message, except a revocation's confirmation (a stop word, other
words meaning stop, a custom stop keyword), which is sent once per revocation and only
when no provider the revocation reaches texts its own (`revocations.confirmations`); a
repeated STOP gets none.
"""

import logging
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from django.db import transaction

from subscriptions.consent import catalog, rules, services
from subscriptions.consent.services import Context, Result
from subscriptions.delivery import messages
from subscriptions.models import (
    Action,
    Confirmation,
    MessagePurpose,
    Outcome,
    ShortCode,
    Source,
    Status,
)
from subscriptions.revocations import programs as program_revocations
from subscriptions.revocations import services as revocations

logger = logging.getLogger("subscriptions.inbound.mo")


class MoAction(StrEnum):
    """The `action` values of POST /api/v1/inbound/ (docs/api.md)."""

    OPT_IN = "opt_in"
    OPT_OUT = "opt_out"
    STOP_ALL = "stop_all"
    CONFIRM = "confirm"
    HELP = "help"
    REVIEW = "review"  # may be a revocation: the number is paused on the code
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
    keyword = catalog.keyword_on(message.short_code.pk, word)  # kept per process
    verdict = rules.classify(message.text, _code_phrases(message.short_code))
    handler = _choose_handler(message, word, keyword, verdict)
    ctx = _mo_context(message, word, actor, _received_by(handler, message, keyword), verdict)
    action, result, reply, *send = handler(message, keyword, ctx)
    if result.duplicate:
        return MoOutcome(action, None, [], duplicate=True)
    if reply is not None and (not send or send[0]):
        messages.queue_text(message.phone, message.short_code, reply, MessagePurpose.REPLY)
    changed = [(e.keyword.word, e.new_status) for e in result.changed]
    return MoOutcome(action, reply, changed)


def _code_phrases(short_code):
    return tuple(
        line for line in (short_code.revocation_phrases or "").splitlines() if line.strip()
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


def _mo_context(message, word, actor, received_by, verdict):
    # MO events occur "now" (docs/rules.md "Order and duplicates"); the handset time is
    # kept as evidence.
    detail = {"word": word}
    if verdict:
        detail["revocation"] = {"verdict": str(verdict.verdict), "matched": verdict.matched}
    if message.received_at is not None:
        detail["received_at"] = message.received_at.isoformat()
    external_id = f"{message.short_code.code}:{message.message_id}" if message.message_id else ""
    return Context(
        source=Source.MO,
        actor=actor,
        external_id=external_id,
        raw_payload=message.raw_payload,
        detail=detail,
        origin_account_id=received_by,
    )


def _choose_handler(message, word, keyword, verdict):
    """The handler of the text's class; the precedence is `rules.mo_class`."""
    mo_class = rules.mo_class(
        word,
        keyword.kind if keyword else None,
        has_pending=lambda: services.pending_in_window(message.phone, message.short_code),
        revocation=verdict.verdict,
    )
    return _HANDLERS[mo_class]


def _programs(events):
    return ", ".join(e.keyword.display_title for e in events)


def _revocation(message, ctx, *, provider_applied):
    """A clear revocation: the code's STOP (its scope: revocations.services), recorded,
    with the one confirmation as the reply when the portal is the one to send it."""
    code = message.short_code
    applied = revocations.apply_text(
        message.phone,
        code,
        message.text,
        ctx,
        received_at=message.received_at,
        matched=(ctx.detail.get("revocation") or {}).get("matched", ctx.detail.get("word", "")),
        provider_applied=provider_applied,
    )
    return _confirmed(MoAction.STOP_ALL, applied)


def _confirmed(action, applied):
    """(action, result, reply, send?) of a revocation: its one confirmation as the reply,
    sent only when the portal is the one to send it."""
    if applied is None:
        return action, Result(duplicate=True), None
    if applied.confirmation == Confirmation.NONE:
        return action, applied.result, None  # the same person again: no second one
    reply = applied.confirmation_text
    return action, applied.result, reply, applied.confirmation == Confirmation.PORTAL


def _stop_all(message, keyword, ctx):
    # A CTIA stop word: the provider running the code applied it before forwarding it.
    return _revocation(message, ctx, provider_applied=True)


def _revoke(message, keyword, ctx):
    # A revocation in other words: no provider saw it as one; the outbox tells them all.
    return _revocation(message, ctx, provider_applied=False)


def _review(message, keyword, ctx):
    code = message.short_code
    applied = revocations.open_review(
        message.phone,
        code,
        message.text,
        ctx,
        received_at=message.received_at,
        matched=(ctx.detail.get("revocation") or {}).get("matched", ""),
    )
    if applied is None:
        return MoAction.REVIEW, Result(duplicate=True), None
    # Not a confirmation (nothing is decided yet): the help text says how to stop.
    return MoAction.REVIEW, applied.result, code.render(code.help_text)


def _custom_stop(message, keyword, ctx):
    # A revocation of the keyword's account's programs, which that account applied itself.
    applied = program_revocations.apply_custom_stop(
        message.phone, keyword, message.text, ctx, received_at=message.received_at
    )
    return _confirmed(MoAction.OPT_OUT, applied)


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


_HANDLERS = {
    rules.MoClass.STOP_ALL: _stop_all,
    rules.MoClass.CUSTOM_STOP: _custom_stop,
    rules.MoClass.REVOKE: _revoke,
    rules.MoClass.REVIEW: _review,
    rules.MoClass.CONFIRM: _confirm,
    rules.MoClass.RESTART: _restart,
    rules.MoClass.HELP: _help,
    rules.MoClass.JOIN: _join,
    rules.MoClass.NOTHING: _nothing,
}
