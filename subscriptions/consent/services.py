"""The only code that changes consent state.

Every public function here runs in one transaction, locks the contact row (the lock that
serialises every writer of that number's consent), asks `rules` what to do, writes the
Subscription / ShortCodeStop rows and one SubscriptionEvent per decision, and sends
`subscription_changed` with the applied events before the transaction commits.
"""

from datetime import datetime

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from subscriptions.common.phones import normalize
from subscriptions.consent import rules
from subscriptions.consent.context import Context, Result, ServiceError
from subscriptions.consent.upserts import insert_stop
from subscriptions.consent.writer import (
    Writer,
    active_stop,
    claim_receipt,
    clear_stop,
    get_contact,
    locked_contact,
    locked_new_contact,
    locked_subscriptions,
    require_program,
)
from subscriptions.models import (
    Action,
    Contact,
    Keyword,
    KeywordKind,
    Outcome,
    ShortCode,
    ShortCodeStop,
    Status,
    Subscription,
)

__all__ = ["Context", "Result", "ServiceError", "get_contact"]  # the service API


def set_contact_locale(phone: str, language: str) -> None:
    """Record `language` (one of LANGUAGES) as the language of the person at `phone`, for
    the texts the portal writes to the number itself. Not consent state: one UPDATE, no
    history, no lock. Only a known contact is updated; choosing a language creates none."""
    if language not in dict(settings.LANGUAGES):
        raise ServiceError(f"Unsupported language {language!r}.")
    Contact.objects.filter(phone=normalize(phone)).exclude(locale=language).update(locale=language)


@transaction.atomic
def opt_in(phone: str, keyword: Keyword, ctx: Context) -> Result:
    """Join one program (pending when it needs double opt-in and the source is live)."""
    require_program(keyword)
    if not claim_receipt(ctx):
        return Result(duplicate=True)
    contact, new = locked_new_contact(phone)
    short_code = keyword.short_code
    sub = None if new else next(iter(locked_subscriptions(contact, keyword=keyword)), None)
    stop = None if new else active_stop(contact, short_code)
    decision = rules.decide_opt_in(
        sub.status if sub else None,
        source=ctx.source,
        double_opt_in=keyword.double_opt_in,
        stopped=stop is not None,
        stop_blocks_imports=short_code.stop_blocks_imports,
        occurred_at=ctx.occurred_at,
        last_occurred_at=rules.opt_in_floor(sub, stop),
    )
    writer = Writer(ctx, new_contact=new)
    writer.apply(contact, keyword, sub, decision, Action.OPT_IN)
    if decision.clears_stop:
        clear_stop(stop, writer.now)
    return writer.flush()


@transaction.atomic
def opt_out(phone: str, keyword: Keyword, ctx: Context) -> Result:
    """Leave one program. Never refused; a row is created even for a number never in it."""
    require_program(keyword)
    if not claim_receipt(ctx):
        return Result(duplicate=True)
    contact, new = locked_new_contact(phone)
    sub = None if new else next(iter(locked_subscriptions(contact, keyword=keyword)), None)
    decision = rules.decide_opt_out(
        sub.status if sub else None,
        occurred_at=ctx.occurred_at,
        last_occurred_at=sub.last_occurred_at if sub else None,
        source=ctx.source,
    )
    writer = Writer(ctx, new_contact=new)
    writer.apply(contact, keyword, sub, decision, Action.OPT_OUT)
    return writer.flush()


def _opt_out_all(writer, contact, subs, action, stop=None):
    for sub in subs:
        decision = rules.decide_opt_out(
            sub.status,
            occurred_at=writer.ctx.occurred_at,
            last_occurred_at=sub.last_occurred_at,
            source=writer.ctx.source,
        )
        if decision.outcome != Outcome.NO_CHANGE:
            writer.apply(contact, sub.keyword, sub, decision, action, stop=stop)


@transaction.atomic
def stop_all(phone: str, short_code: ShortCode, ctx: Context) -> Result:
    """STOP: every program on the code opted out, and a ShortCodeStop recorded (also for a
    number with no subscription there, as WhatCounts and CTIA allow)."""
    if not claim_receipt(ctx):
        return Result(duplicate=True)
    contact, new = locked_new_contact(phone)
    return stop_locked(contact, short_code, ctx, new=new)


def stop_locked(contact: Contact, short_code: ShortCode, ctx: Context, *, new=False) -> Result:
    """`stop_all` for a contact the caller has locked (`writer.locked_contact`) and whose
    receipt it has claimed, inside the caller's transaction: the revocation services stop
    every code of a revocation's scope under the one lock. `new`: the contact was created
    by that lock, so it has nothing to opt out."""
    writer = Writer(ctx, new_contact=new)
    stop = insert_stop(contact, short_code, ctx.occurred_at, ctx.source)
    if stop is not None:
        writer.event(contact, short_code, Action.STOP_ALL, outcome=Outcome.APPLIED)
    else:
        stop = active_stop(contact, short_code)
        if ctx.occurred_at > stop.latest_at:
            stop.latest_at = ctx.occurred_at
            stop.save(update_fields=["latest_at"])
        writer.event(
            contact,
            short_code,
            Action.STOP_ALL,
            outcome=Outcome.NO_CHANGE,
            reason="a STOP is already active on this code",
        )
    subs = [] if new else locked_subscriptions(contact, short_code=short_code)
    _opt_out_all(writer, contact, subs, Action.STOP_ALL, stop=stop)
    return writer.flush()


@transaction.atomic
def custom_stop(phone: str, stop_keyword: Keyword, ctx: Context) -> Result:
    """A custom stop keyword (e.g. STOP1): every program of that keyword's provider account
    on the code opted out; no code-wide stop."""
    if stop_keyword.kind != KeywordKind.STOP:
        raise ServiceError(f"{stop_keyword.word} is not a stop keyword.")
    if not claim_receipt(ctx):
        return Result(duplicate=True)
    contact = locked_contact(phone)
    short_code = stop_keyword.short_code
    account_id = stop_keyword.account_id
    subs = [
        s
        for s in locked_subscriptions(contact, short_code=short_code)
        if s.keyword.account_id == account_id
    ]
    writer = Writer(ctx)
    writer.event(
        contact,
        short_code,
        Action.CUSTOM_STOP,
        keyword=stop_keyword,
        outcome=Outcome.APPLIED if subs else Outcome.NO_CHANGE,
    )
    _opt_out_all(writer, contact, subs, Action.CUSTOM_STOP)
    return writer.flush()


def pending_in_window(phone: str, short_code: ShortCode, now: datetime | None = None) -> bool:
    """Does this number have a pending subscription on the code still inside the window?"""
    now = now or timezone.now()
    pending = Subscription.objects.filter(
        contact__phone=normalize(phone), short_code=short_code, status=Status.PENDING
    )
    return any(
        rules.in_window(s.pending_since, short_code.double_opt_in_window_hours, now)
        for s in pending.only("pending_since")
    )


@transaction.atomic
def confirm(phone: str, short_code: ShortCode, ctx: Context) -> Result:
    """The confirmation word: pending subscriptions inside the window become opted in;
    outside it they stay pending and the refusal is recorded."""
    if not claim_receipt(ctx):
        return Result(duplicate=True)
    contact = locked_contact(phone)
    writer = Writer(ctx)
    pending = locked_subscriptions(contact, short_code=short_code, status=Status.PENDING)
    stop = active_stop(contact, short_code)
    for sub in pending:
        decision = rules.decide_confirm(
            sub.status,
            pending_since=sub.pending_since,
            window_hours=short_code.double_opt_in_window_hours,
            now=writer.now,
            occurred_at=ctx.occurred_at,
            last_occurred_at=rules.opt_in_floor(sub, stop),
        )
        writer.apply(contact, sub.keyword, sub, decision, Action.CONFIRM)
        if decision.clears_stop:
            clear_stop(stop, writer.now)
    if not pending:
        writer.event(
            contact,
            short_code,
            Action.CONFIRM,
            outcome=Outcome.NO_CHANGE,
            reason="nothing waiting for confirmation",
        )
    return writer.flush()


@transaction.atomic
def restart(phone: str, short_code: ShortCode, ctx: Context) -> Result:
    """START / UNSTOP: lift the STOP and bring back exactly the programs it opted out."""
    if not claim_receipt(ctx):
        return Result(duplicate=True)
    contact = locked_contact(phone)
    writer = Writer(ctx)
    last_stop = (
        ShortCodeStop.objects.select_for_update()
        .filter(contact=contact, short_code=short_code)
        .order_by("-id")
        .first()
    )
    if last_stop is not None and rules.is_stale(ctx.occurred_at, last_stop.latest_at):
        writer.event(contact, short_code, Action.RESTART, outcome=Outcome.STALE, reason=rules.STALE)
        return writer.flush()
    was_active = last_stop is not None and last_stop.cleared_at is None
    writer.event(
        contact,
        short_code,
        Action.RESTART,
        outcome=Outcome.APPLIED if was_active else Outcome.NO_CHANGE,
        reason="" if was_active else "no STOP to lift",
    )
    if last_stop is not None:
        clear_stop(last_stop, writer.now)
        for sub in locked_subscriptions(
            contact, short_code=short_code, opted_out_by_stop=last_stop
        ):
            decision = rules.decide_restore(
                sub.status, occurred_at=ctx.occurred_at, last_occurred_at=sub.last_occurred_at
            )
            writer.apply(contact, sub.keyword, sub, decision, Action.RESTART)
    return writer.flush()


@transaction.atomic
def record(
    phone: str,
    short_code: ShortCode,
    action: str,
    ctx: Context,
    *,
    keyword: Keyword | None = None,
    reason: str = "",
) -> Result:
    """Record an inbound message that changes nothing (HELP, unknown words)."""
    if not claim_receipt(ctx):
        return Result(duplicate=True)
    contact = get_contact(phone)
    writer = Writer(ctx)
    writer.event(
        contact, short_code, action, keyword=keyword, outcome=Outcome.NO_CHANGE, reason=reason
    )
    return writer.flush()
