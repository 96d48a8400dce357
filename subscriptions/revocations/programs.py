"""Revocations of some programs only: a program turned off on the preferences page, an API
or staff opt-out of one program, a custom stop keyword texted to a code (STOP1: every
program of its account there). A person's own opt-out by any channel is a revocation (FCC
24-24), so these are recorded, confirmed once and measured like the code-wide ones; their
scope is the programs the person named, whatever PORTAL_REVOKE_ALL_SCOPE says (docs/rules.md
"Revocation": a deliberate choice of programs is honoured as made).

Same shape as services.py: one transaction, the contact locked, each program left through
`consent.services`, the Revocation row with its programs (`Revocation.keywords`) and the
deliveries they caused, and the one confirmation (the code's opt_out_text naming the
programs, when no provider texts its own).
"""

from dataclasses import replace
from datetime import datetime

from django.db import transaction
from django.utils import timezone

from subscriptions.consent import services as consent
from subscriptions.consent.context import Context, ServiceError
from subscriptions.consent.signals import revocation_received
from subscriptions.consent.writer import locked_contact
from subscriptions.models import (
    Keyword,
    MessagePurpose,
    Revocation,
    RevocationChannel,
    RevocationVerdict,
    Status,
)
from subscriptions.revocations.confirmations import Reached, account_programs
from subscriptions.revocations.services import (
    Applied,
    check_words,
    confirm,
    create,
    recorded_by,
)


def _left(applied):
    """The programs this revocation opted out (a repeat opts out none)."""
    return [e.keyword for e in applied.changed if e.new_status == Status.OPTED_OUT]


def _reached(left, *, applied_by=None):
    """One target per (code, account) of the programs left, in order."""
    targets = {}
    for keyword in left:
        key = (keyword.short_code_id, keyword.account_id)
        if key not in targets:
            targets[key] = Reached(
                keyword.short_code,
                keyword.account,
                applied_by_provider=keyword.account_id == applied_by,
            )
    return list(targets.values())


def _confirm_programs(applied, contact, left, *, applied_by=None, purpose, queue):
    reached = _reached(left, applied_by=applied_by)
    first = reached[0].short_code if reached else None
    named = [keyword for keyword in left if keyword.short_code == first]
    confirm(applied, contact, reached, purpose=purpose, queue=queue, programs=named)


def _programs_of(stop_keyword):
    """A custom stop keyword's scope: every program of its account on its code."""
    ids = account_programs(stop_keyword.short_code, stop_keyword.account)
    return list(Keyword.objects.filter(pk__in=ids)) or [stop_keyword]


def _codes_of(keywords):
    return sorted({keyword.short_code for keyword in keywords}, key=lambda code: code.code)


@transaction.atomic
def revoke_programs(
    phone: str,
    keywords: list[Keyword],
    *,
    channel: str,
    text: str,
    ctx: Context,
    received_at: datetime | None = None,
) -> Applied:
    """The person's opt-out of these programs (`consent.services.opt_out` each), recorded
    as a revocation of them through `channel` (web, api, staff, ...), with one confirmation
    that the portal sends when no provider does."""
    check_words(channel, text, received_at)
    if not keywords:
        raise ServiceError("Name the programs the revocation is of.")
    contact = locked_contact(phone)
    detail = {**ctx.detail, "revocation_channel": channel}
    first = replace(ctx, detail=detail)
    others = replace(first, external_id="")
    results = [
        consent.opt_out(phone, keyword, first if index == 0 else others)
        for index, keyword in enumerate(keywords)
    ]
    if results[0].duplicate:
        raise ServiceError("This revocation was recorded already (same external id).")
    now = timezone.now()
    applied = Applied(revocation=None, results=results)
    _confirm_programs(
        applied, contact, _left(applied), purpose=MessagePurpose.CONFIRMATION, queue=True
    )
    applied.revocation = create(
        contact,
        _codes_of(keywords),
        applied.events,
        keywords=keywords,
        channel=channel,
        text=text,
        received_at=received_at or now,
        verdict=RevocationVerdict.RECORDED,
        applied_at=now,
        confirmation=applied.confirmation,
        **recorded_by(ctx),
    )
    revocation_received.send(sender=Revocation, revocation=applied.revocation)
    return applied


@transaction.atomic
def apply_custom_stop(
    phone: str,
    stop_keyword: Keyword,
    text: str,
    ctx: Context,
    *,
    received_at: datetime | None = None,
) -> Applied | None:
    """A custom stop keyword texted to its code: every program of its account there opted
    out (`consent.services.custom_stop`), recorded as a revocation of them. The account
    applied the keyword itself before forwarding it, so SFMC and WhatCounts text their own
    confirmation. None for a repeated message id. The caller (inbound.mo) sends the reply
    when `Applied.confirmation` is the portal's."""
    contact = locked_contact(phone)
    result = consent.custom_stop(phone, stop_keyword, ctx)
    if result.duplicate:
        return None
    now = timezone.now()
    applied = Applied(revocation=None, results=[result])
    left = _left(applied)
    _confirm_programs(
        applied,
        contact,
        left,
        applied_by=stop_keyword.account_id,
        purpose=MessagePurpose.REPLY,
        queue=False,
    )
    applied.revocation = create(
        contact,
        [stop_keyword.short_code],
        applied.events,
        keywords=_programs_of(stop_keyword),
        channel=RevocationChannel.SMS,
        text=text,
        received_at=min(received_at or now, now),
        verdict=RevocationVerdict.STOP,
        matched=stop_keyword.word,
        applied_at=now,
        confirmation=applied.confirmation,
        **recorded_by(ctx),
    )
    revocation_received.send(sender=Revocation, revocation=applied.revocation)
    return applied
