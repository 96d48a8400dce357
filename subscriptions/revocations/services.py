"""The only code that records revocations and decides them (package docstring).

Each entry point is one transaction: it locks the contact row (the consent services' lock),
applies the STOP through `consent.services.stop_all` for every code in scope (so the
outbox tells every provider account there), writes the append-only Revocation (and
RevocationDecision) rows and their history events, links the provider deliveries it caused
(`measure`), queues the one confirmation when the portal is the one to send it, and sends
`revocation_received` / `revocation_decided`. Revocations of some programs only (a program
turned off, a custom stop keyword) are `programs.py`'s.
"""

from dataclasses import dataclass, field, replace
from datetime import datetime

from django.db import transaction
from django.utils import timezone

from subscriptions.consent import services as consent
from subscriptions.consent.context import Context, Result, ServiceError
from subscriptions.consent.rules.deadlines import due_by
from subscriptions.consent.signals import (
    revocation_decided,
    revocation_in_step,
    revocation_received,
)
from subscriptions.consent.writer import (
    Writer,
    claim_receipt,
    locked_contact,
    locked_new_contact,
)
from subscriptions.delivery import messages
from subscriptions.models import (
    Action,
    Confirmation,
    MessagePurpose,
    Outcome,
    Revocation,
    RevocationChannel,
    RevocationDecision,
    RevocationDecisionKind,
    RevocationVerdict,
    ShortCode,
    Source,
    SubscriptionEvent,
)
from subscriptions.models.consent import ORIGIN_DETAIL_KEY
from subscriptions.revocations import confirmations, measure, rows
from subscriptions.revocations.scope import scope_codes, texted_first

REVIEW_REASON = "may be a revocation: sending paused until staff decide"


@dataclass
class Applied:
    """What recording (or deciding) a revocation did."""

    revocation: Revocation
    results: list = field(default_factory=list)  # consent Results, one per code
    confirmation: str = Confirmation.NONE
    confirmation_code: ShortCode | None = None  # where the confirmation goes
    confirmation_text: str = ""

    @property
    def events(self):
        return [event for result in self.results for event in result.events]

    @property
    def changed(self):
        return [event for result in self.results for event in result.changed]

    @property
    def result(self) -> Result:
        return Result(events=self.events)


def _stop_codes(contact, codes, ctx, *, new=False):
    """The STOP of each code, under the contact lock the caller holds; None for a repeat of
    the same message (the receipt id is claimed once, for the whole revocation). `new`: the
    lock created the contact."""
    if not claim_receipt(ctx):
        return None
    others = replace(
        ctx,
        external_id="",
        origin_account_id=None,  # the provider applied it on the texted code only
        detail={k: v for k, v in ctx.detail.items() if k != ORIGIN_DETAIL_KEY},
    )
    return [
        consent.stop_locked(contact, code, ctx if index == 0 else others, new=new)
        for index, code in enumerate(codes)
    ]


def _stopped_now(results, codes):
    """The codes where this revocation opened a new STOP (a repeat changes none)."""
    new = {
        event.short_code_id
        for result in results
        for event in result.events
        if event.action == Action.STOP_ALL
        and not event.keyword_id
        and event.outcome == Outcome.APPLIED
    }
    return [code for code in codes if code.pk in new]


def confirm(applied, contact, reached, *, purpose, queue, programs=()):
    """Decide who confirms `reached` (confirmations.who_confirms) and, when it is the portal
    and `queue`, queue the text (after commit) on the first code reached."""
    applied.confirmation = confirmations.who_confirms(contact, reached)
    code = reached[0].short_code if reached else None
    applied.confirmation_code = code
    if code is not None:
        applied.confirmation_text = confirmations.confirmation_text(code, programs)
    if queue and applied.confirmation == Confirmation.PORTAL:
        messages.queue_text(contact.phone, code, applied.confirmation_text, purpose)


def _confirm_codes(applied, contact, results, codes, *, applied_by=None, purpose, queue):
    reached = [
        target
        for code in _stopped_now(results, codes)
        for target in confirmations.code_wide(code, applied_by=applied_by)
    ]
    confirm(applied, contact, reached, purpose=purpose, queue=queue)


def create(contact, codes, events, *, keywords=(), **fields) -> Revocation:
    """The Revocation row, its scope, the deliveries its `events` caused, and its in-step
    row at once when none is owed (written together: revocations/rows.py)."""
    revocation = Revocation(contact=contact, **fields)
    revocation.due_by = due_by(revocation.received_at)
    syncs = measure.caused_syncs(events)
    step = None
    if revocation.applied_at is not None:
        step = measure.in_step_at_creation(revocation, syncs)
    rows.insert_new(revocation, codes, syncs, step)
    if keywords:
        revocation.keywords.set(keywords)
    if step is not None:
        revocation_in_step.send(sender=Revocation, revocation=revocation, in_step=step)
    return revocation


def recorded_by(ctx):
    return {
        "recorded_by": ctx.actor,
        "recorded_by_label": ctx.actor_label[:150],
        "external_id": ctx.external_id[:200],
    }


# savepoint=False: called inside the MO handler's transaction, which never catches its
# errors; a failure rolls that whole transaction back (the reply with it).
@transaction.atomic(savepoint=False)
def apply_text(
    phone: str,
    short_code: ShortCode,
    text: str,
    ctx: Context,
    *,
    received_at: datetime | None = None,
    matched: str = "",
    provider_applied: bool = False,
    queue_confirmation: bool = False,
) -> Applied | None:
    """A handset text that is a clear revocation on `short_code`: its STOP (and, with the
    brand scope, the brand's other codes'), recorded. `provider_applied`: the provider
    running the code applied it before forwarding it (a CTIA stop word). None for a
    repeated message id. The caller (inbound.mo) sends the one reply unless
    `queue_confirmation`; `Applied.confirmation` says whether a text is due from the portal.
    """
    contact, new = locked_new_contact(phone)
    codes = texted_first(short_code, scope_codes(contact, short_code=short_code))
    results = _stop_codes(contact, codes, ctx, new=new)
    if results is None:
        return None
    now = timezone.now()
    applied = Applied(revocation=None, results=results)
    _confirm_codes(
        applied,
        contact,
        results,
        codes,
        applied_by=short_code.provider_id if provider_applied else None,
        purpose=MessagePurpose.REPLY,
        queue=queue_confirmation,
    )
    applied.revocation = create(
        contact,
        codes,
        applied.events,
        channel=RevocationChannel.SMS,
        text=text,
        received_at=min(received_at or now, now),
        verdict=RevocationVerdict.STOP,
        matched=matched[:120],
        applied_at=now,
        confirmation=applied.confirmation,
        **recorded_by(ctx),
    )
    revocation_received.send(sender=Revocation, revocation=applied.revocation)
    return applied


def _history(contact, codes, action, ctx, reason):
    """The pause / decision events: history rows, not subscription changes (nothing is
    sent to providers for a pause; `revocation_*` signals announce them)."""
    writer = Writer(ctx)
    for code in codes:
        writer.event(contact, code, action, outcome=Outcome.APPLIED, reason=reason)
    SubscriptionEvent.objects.bulk_create(writer.events)
    return Result(events=writer.events)


@transaction.atomic(savepoint=False)  # as apply_text
def open_review(
    phone: str,
    short_code: ShortCode,
    text: str,
    ctx: Context,
    *,
    received_at: datetime | None = None,
    matched: str = "",
) -> Applied | None:
    """A handset text that may be a revocation: a record opened, sending to the number on
    the code (and, with the brand scope, the brand's codes) paused at once (sendable reason
    `review`) until staff decide. None for a repeated message id."""
    if not claim_receipt(ctx):
        return None
    contact = locked_contact(phone)
    codes = texted_first(short_code, scope_codes(contact, short_code=short_code))
    result = _history(contact, codes, Action.REVIEW, ctx, REVIEW_REASON)
    now = timezone.now()
    revocation = create(
        contact,
        codes,
        [],
        channel=RevocationChannel.SMS,
        text=text,
        received_at=min(received_at or now, now),
        verdict=RevocationVerdict.REVIEW,
        matched=matched[:120],
        confirmation=Confirmation.PENDING,
        **recorded_by(ctx),
    )
    revocation_received.send(sender=Revocation, revocation=revocation)
    return Applied(revocation=revocation, results=[result])


def check_words(channel: str, text: str, received_at: datetime | None) -> None:
    if channel not in RevocationChannel.values:
        raise ServiceError(f"Unknown channel {channel!r}.")
    if not (text or "").strip():
        raise ServiceError("The person's words are required, verbatim.")
    if received_at is not None and received_at > timezone.now():
        raise ServiceError("received_at is in the future.")


@transaction.atomic
def record_revocation(
    phone: str,
    *,
    channel: str,
    text: str,
    ctx: Context,
    received_at: datetime | None = None,
    short_code: ShortCode | None = None,
    brand: str | None = None,
) -> Applied:
    """A revocation through any channel (recorded by staff or an integration, or the
    preferences page's, the API's and the admin's own code-wide opt-outs): applied at once
    to its scope (a code, a brand, or every code the number is known on) with one
    confirmation, which the portal sends when no provider does."""
    check_words(channel, text, received_at)
    now = timezone.now()
    contact = locked_contact(phone)
    codes = scope_codes(contact, short_code=short_code, brand=brand)
    if short_code is not None:
        codes = texted_first(short_code, codes)
    if not codes:
        raise ServiceError(
            "The number is known on no short code; name the short_code or brand it revokes."
        )
    detail = {**ctx.detail, "revocation_channel": channel}
    results = _stop_codes(contact, codes, replace(ctx, detail=detail))
    if results is None:
        raise ServiceError("This revocation was recorded already (same external id).")
    applied = Applied(revocation=None, results=results)
    _confirm_codes(
        applied, contact, results, codes, purpose=MessagePurpose.CONFIRMATION, queue=True
    )
    applied.revocation = create(
        contact,
        codes,
        applied.events,
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


def _open_for_decision(revocation_id):
    revocation = Revocation.objects.select_related("contact").filter(pk=revocation_id).first()
    if revocation is None:
        raise ServiceError(f"No revocation {revocation_id}.")
    contact = locked_contact(revocation.contact.phone)
    if revocation.verdict != RevocationVerdict.REVIEW:
        raise ServiceError("This revocation was applied when it arrived; nothing to decide.")
    if RevocationDecision.objects.filter(revocation=revocation).exists():
        raise ServiceError("This revocation was decided already.")
    return revocation, contact


@transaction.atomic
def decide(revocation_id: int, decision: str, reason: str, *, actor=None) -> Applied:
    """Staff decide a revocation under review: `revoke` applies the STOP to its scope now
    (with the one confirmation), `not_a_revocation` lifts the pause. Either way a
    RevocationDecision row and one history event per code record who and why."""
    if decision not in RevocationDecisionKind.values:
        raise ServiceError(f"decision must be one of {RevocationDecisionKind.values}.")
    if not (reason or "").strip():
        raise ServiceError("A decision needs a reason.")
    revocation, contact = _open_for_decision(revocation_id)
    codes = list(revocation.short_codes.select_related("provider").order_by("code"))
    ctx = Context(
        source=Source.ADMIN,
        actor=actor,
        reason=reason,
        detail={"revocation_id": revocation.pk, "decision": decision},
    )
    applied = Applied(revocation=revocation)
    if decision == RevocationDecisionKind.REVOKE:
        applied.results = _stop_codes(contact, codes, ctx)
        _confirm_codes(
            applied,
            contact,
            applied.results,
            codes,
            purpose=MessagePurpose.CONFIRMATION,
            queue=True,
        )
    label = RevocationDecisionKind(decision).label.lower()
    applied.results.append(
        _history(contact, codes, Action.REVIEW_DECIDED, ctx, f"{label}: {reason}"[:255])
    )
    RevocationDecision.objects.create(
        revocation=revocation,
        decision=decision,
        reason=reason,
        decided_by=actor,
        decided_by_label=ctx.actor_label[:150],
        confirmation=applied.confirmation,
    )
    measure.link_syncs(revocation, applied.events)
    measure.record_if_in_step(revocation)
    revocation_decided.send(sender=Revocation, revocation=revocation)
    return applied
