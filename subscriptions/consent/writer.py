"""The write side shared by the consent services and the batch form: locks, receipts and
the Writer that turns rule decisions into rows and history events in a constant number of
queries."""

from datetime import datetime

from django.utils import timezone

from subscriptions.common.phones import normalize
from subscriptions.consent import rules, upserts
from subscriptions.consent.context import Context, Result, ServiceError
from subscriptions.consent.signals import subscription_changed
from subscriptions.models import (
    Contact,
    Keyword,
    KeywordKind,
    Outcome,
    ShortCode,
    ShortCodeStop,
    Status,
    Subscription,
    SubscriptionEvent,
)


def get_contact(phone: str) -> Contact:
    """The contact for a phone number in any accepted format, created when new."""
    contact, _ = Contact.objects.get_or_create(phone=normalize(phone))
    return contact


class Writer:
    """Collects the rows of one service call and writes them with a constant number of
    queries, whatever the number of programs touched."""

    def __init__(self, ctx: Context, *, new_contact: bool = False):
        self.ctx = ctx
        # The contact row was created by this call's lock: nothing of it exists elsewhere
        # yet (no subscription, STOP or provider sync), which the receivers may rely on.
        self.new_contact = new_contact
        self.now = timezone.now()
        self.new_subs = []
        self.dirty_subs = {}
        self.events = []

    def event(
        self,
        contact,
        short_code,
        action,
        decision=None,
        *,
        sub=None,
        keyword=None,
        old_status="",
        outcome=None,
        reason="",
    ):
        ctx = self.ctx
        event = SubscriptionEvent(
            contact=contact,
            short_code=short_code,
            keyword=keyword or (sub and sub.keyword),
            subscription=sub,
            action=action,
            old_status=old_status or "",
            new_status=(decision.new_status if decision and decision.applied else "") or "",
            outcome=outcome or (decision.outcome if decision else Outcome.NO_CHANGE),
            reason=(reason or (decision.reason if decision else ""))[:255],
            source=ctx.source,
            actor=ctx.actor,
            actor_label=ctx.actor_label[:150],
            occurred_at=ctx.occurred_at,
            recorded_at=self.now,
            consent_text=ctx.consent_text,
            ip_address=ctx.ip_address,
            user_agent=ctx.user_agent[:500],
            external_id=ctx.external_id[:200],
            raw_payload=ctx.raw_payload,
            detail=ctx.detail,
        )
        self.events.append(event)
        return event

    def apply(
        self,
        contact: Contact,
        keyword: Keyword,
        sub: Subscription | None,
        decision: rules.Decision,
        action: str,
        *,
        stop: ShortCodeStop | None = None,
    ) -> SubscriptionEvent:
        """Apply a program-level decision to `sub` (None = create) and record it."""
        old_status = sub.status if sub else ""
        if decision.confirms and sub is not None:
            self._advance(sub)
        if decision.applied:
            if sub is None:
                sub = Subscription(
                    contact=contact,
                    keyword=keyword,
                    short_code_id=keyword.short_code_id,
                    created_at=self.now,
                )
                self.new_subs.append(sub)
            elif not sub._state.adding:
                self.dirty_subs[id(sub)] = sub
            sub.status = decision.new_status
            sub.changed_at = self.now
            sub.last_occurred_at = self.ctx.occurred_at
            sub.last_source = self.ctx.source
            sub.opted_out_by_stop = stop
            if decision.new_status == Status.PENDING:
                sub.pending_since = self.now if decision.restarts_window else sub.pending_since
            else:
                sub.pending_since = None
        return self.event(
            contact,
            keyword.short_code,
            action,
            decision,
            sub=sub,
            keyword=keyword,
            old_status=old_status,
        )

    def _advance(self, sub):
        if self.ctx.occurred_at > sub.last_occurred_at:
            sub.last_occurred_at = self.ctx.occurred_at
            if not sub._state.adding:
                self.dirty_subs[id(sub)] = sub

    def flush(self) -> Result:
        if self.new_subs:
            Subscription.objects.bulk_create(self.new_subs)
        if self.dirty_subs:
            _save_changed(list(self.dirty_subs.values()))
        for event in self.events:
            if event.subscription is not None:
                event.subscription_id = event.subscription.pk
        SubscriptionEvent.objects.bulk_create(self.events)
        applied = [e for e in self.events if e.outcome == Outcome.APPLIED]
        if applied:
            subscription_changed.send(
                sender=SubscriptionEvent,
                events=applied,
                source=self.ctx.source,
                new_contact=self.new_contact,
            )
        return Result(events=self.events)


CHANGED_FIELDS = (
    "status",
    "changed_at",
    "last_occurred_at",
    "last_source",
    "pending_since",
    "opted_out_by_stop",
)


def _save_changed(subs: list[Subscription]) -> None:
    """Write the changed subscriptions: one plain UPDATE when they all take the same values
    (a STOP's programs, a confirmation of several), else one CASE WHEN bulk_update."""
    columns = [Subscription._meta.get_field(name).attname for name in CHANGED_FIELDS]
    values = {tuple(getattr(sub, column) for column in columns) for sub in subs}
    if len(values) == 1:
        Subscription.objects.filter(pk__in=[sub.pk for sub in subs]).update(
            **dict(zip(columns, values.pop(), strict=True))
        )
    else:
        Subscription.objects.bulk_update(subs, list(CHANGED_FIELDS))


def claim_receipt(ctx: Context) -> bool:
    """True the first time (source, external_id) is seen; a repeat only bumps a counter."""
    if not ctx.external_id:
        return True
    return upserts.claim_receipt(ctx.source, ctx.external_id)


def locked_contact(phone: str) -> Contact:
    """The contact, created when new, locked until the transaction ends (one statement)."""
    return upserts.locked_contact(normalize(phone))[0]


def locked_new_contact(phone: str) -> tuple[Contact, bool]:
    """(contact, new): `locked_contact`, and whether this call created it (a new contact has
    no rows to read yet). False when the database cannot tell."""
    contact, created = upserts.locked_contact(normalize(phone))
    return contact, bool(created)


def active_stop(contact: Contact, short_code: ShortCode) -> ShortCodeStop | None:
    return (
        ShortCodeStop.objects.select_for_update()
        .filter(contact=contact, short_code=short_code, cleared_at__isnull=True)
        .first()
    )


def clear_stop(stop: ShortCodeStop | None, now: datetime) -> None:
    if stop is not None and stop.cleared_at is None:
        stop.cleared_at = now
        stop.save(update_fields=["cleared_at"])


def locked_subscriptions(contact: Contact, **filters) -> list[Subscription]:
    # of=("self",): lock only the subscriptions. Without it PostgreSQL also locks the joined
    # keyword and short code rows, serialising every writer on the code behind one lock.
    return list(
        Subscription.objects.select_for_update(of=("self",))
        .filter(contact=contact, **filters)
        .select_related("keyword__short_code")
    )


def require_program(keyword: Keyword) -> None:
    if keyword.kind != KeywordKind.PROGRAM:
        raise ServiceError(f"{keyword.word} is a {keyword.kind} keyword, not a program.")
