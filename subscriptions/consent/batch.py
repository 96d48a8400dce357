"""The batch form of the consent services, for imports: the same rules, a constant number
of queries per chunk."""

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from django.db import transaction

from subscriptions.consent import rules
from subscriptions.consent.context import Context
from subscriptions.consent.writer import (
    Writer,
)
from subscriptions.models import (
    Action,
    Contact,
    Keyword,
    ShortCodeStop,
    Subscription,
)


@dataclass(frozen=True)
class BatchRow:
    """One import row, already parsed: phone in E.164, a program keyword, subscribe or not."""

    phone: str
    keyword: Keyword
    subscribe: bool
    occurred_at: datetime | None = None
    consent_text: str = ""
    line: int = 0


@dataclass
class BatchResult:
    events: list

    def count(self, outcome: str) -> int:
        return sum(1 for e in self.events if e.outcome == outcome)


def _batch_contacts(phones):
    existing = set(Contact.objects.filter(phone__in=phones).values_list("phone", flat=True))
    missing = [Contact(phone=p) for p in phones if p not in existing]
    if missing:
        Contact.objects.bulk_create(missing, ignore_conflicts=True)
    # Locked in id order (rows are locked after the sort) so that two concurrent batches
    # cannot deadlock.
    return {
        c.phone: c
        for c in Contact.objects.select_for_update().filter(phone__in=phones).order_by("id")
    }


class DryRun:
    """What a dry run's earlier chunks would have written, so that a later chunk predicts
    what the real run (which reads it back from the database) would do. One per file; it
    holds one entry per (phone, program) pair the dry run touched."""

    def __init__(self):
        self.subs = {}  # (phone, keyword id) -> (status, last_occurred_at)
        self.lifted_stops = set()  # (phone, short code id)

    def overlay(self, rows, contacts, subs, stops):
        """Put the predicted state of this chunk's pairs over the one read from the database."""
        for row in rows:
            contact, keyword = contacts[row.phone], row.keyword
            if (row.phone, keyword.short_code_id) in self.lifted_stops:
                stops.pop((contact.pk, keyword.short_code_id), None)
            predicted = self.subs.get((row.phone, keyword.pk))
            if predicted is not None:
                sub = subs.setdefault(
                    (contact.pk, keyword.pk),
                    Subscription(
                        contact=contact, keyword=keyword, short_code_id=keyword.short_code_id
                    ),
                )
                sub.status, sub.last_occurred_at = predicted

    def remember(self, rows, contacts, subs, lifted):
        for row in rows:
            sub = subs.get((contacts[row.phone].pk, row.keyword.pk))
            if sub is not None:
                self.subs[(row.phone, row.keyword.pk)] = (sub.status, sub.last_occurred_at)
        self.lifted_stops.update(lifted)


@transaction.atomic
def apply_batch(
    rows: Iterable[BatchRow], ctx: Context, *, dry_run: bool | DryRun = False
) -> BatchResult:
    """Apply import rows (docs/rules.md; SFMC import rules, seed 001) with a constant number
    of queries per batch.

    With dry_run the decisions are computed and returned but nothing is written. A file
    applied in several batches passes the same DryRun to each.
    """
    rows = list(rows)
    if not rows:
        return BatchResult(events=[])
    if dry_run is True:
        dry_run = DryRun()
    contacts = _batch_contacts(sorted({r.phone for r in rows}))
    keyword_ids = {r.keyword.pk for r in rows}
    subs = {
        (s.contact_id, s.keyword_id): s
        for s in Subscription.objects.select_for_update().filter(
            contact__in=contacts.values(), keyword_id__in=keyword_ids
        )
    }
    code_ids = {r.keyword.short_code_id for r in rows}
    stops = {
        (s.contact_id, s.short_code_id): s
        for s in ShortCodeStop.objects.select_for_update().filter(
            contact__in=contacts.values(), short_code_id__in=code_ids, cleared_at__isnull=True
        )
    }
    if dry_run:
        dry_run.overlay(rows, contacts, subs, stops)
    writer = Writer(ctx)
    lifted = {}
    for row in rows:
        contact = contacts[row.phone]
        key = (contact.pk, row.keyword.pk)
        sub = subs.get(key)
        writer.ctx = _row_context(ctx, row)
        current = sub.status if sub else None
        stop_key = (contact.pk, row.keyword.short_code_id)
        if row.subscribe:
            stop = stops.get(stop_key)
            decision = rules.decide_opt_in(
                current,
                source=ctx.source,
                double_opt_in=row.keyword.double_opt_in,
                stopped=stop is not None,
                stop_blocks_imports=row.keyword.short_code.stop_blocks_imports,
                occurred_at=writer.ctx.occurred_at,
                last_occurred_at=rules.opt_in_floor(sub, stop),
            )
            action = Action.OPT_IN
        else:
            decision = rules.decide_opt_out(
                current,
                occurred_at=writer.ctx.occurred_at,
                last_occurred_at=rules.opt_in_floor(sub, None),
                source=ctx.source,
            )
            action = Action.OPT_OUT
        event = writer.apply(contact, row.keyword, sub, decision, action)
        subs[key] = event.subscription
        if decision.clears_stop and stop_key in stops:
            lifted[(row.phone, row.keyword.short_code_id)] = stops.pop(stop_key).pk
    writer.ctx = ctx
    if dry_run:
        dry_run.remember(rows, contacts, subs, lifted)
        transaction.set_rollback(True)
        return BatchResult(events=writer.events)
    if lifted:
        ShortCodeStop.objects.filter(pk__in=lifted.values()).update(cleared_at=writer.now)
    return BatchResult(events=writer.flush().events)


def _row_context(ctx, row):
    return Context(
        source=ctx.source,
        occurred_at=row.occurred_at or ctx.occurred_at,
        actor=ctx.actor,
        actor_label=ctx.actor_label,
        consent_text=row.consent_text or ctx.consent_text,
        detail={**ctx.detail, "line": row.line} if row.line else ctx.detail,
    )
