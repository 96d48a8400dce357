"""Receivers of the published signals (consent/signals.py): each writes its webhook events
to the outbox in the sender's transaction. Registered by SubscriptionsConfig.ready()."""

import itertools

from django.db.models import QuerySet
from django.dispatch import receiver

from subscriptions.consent.signals import (
    drift_found,
    revocation_decided,
    revocation_received,
    subscription_changed,
)
from subscriptions.models import EventType
from subscriptions.webhooks import outbox, payloads

# Each receiver asks first whether any endpoint wants the type (kept per process): a payload
# may read rows (a revocation's decision), which nobody needs when no one listens.


@receiver(subscription_changed, dispatch_uid="webhooks_consent_changed")
def consent_changed(sender, events, source, **kwargs):
    if not outbox.subscribers(EventType.CONSENT_CHANGED):
        return
    for batch in _in_batches(events):
        outbox.record(
            EventType.CONSENT_CHANGED,
            [(event.contact.phone, payloads.consent_changed(event)) for event in batch],
        )


IMPORT_BATCH = 2_000


def _in_batches(events):
    """A service's list as it is; a set-based import's chunk (a lazy QuerySet of tens of
    thousands of events) read with its number, code and program in the same query, a
    bounded batch at a time, in history order."""
    if not isinstance(events, QuerySet):
        yield events
        return
    rows = events.select_related("contact", "short_code", "keyword").iterator(IMPORT_BATCH)
    yield from itertools.batched(rows, IMPORT_BATCH, strict=False)


@receiver(revocation_received, dispatch_uid="webhooks_revocation_received")
def revocation_was_received(sender, revocation, **kwargs):
    if outbox.subscribers(EventType.REVOCATION_RECEIVED):
        outbox.record(
            EventType.REVOCATION_RECEIVED,
            [(payloads.phone_of(revocation), payloads.revocation(revocation))],
        )


@receiver(revocation_decided, dispatch_uid="webhooks_revocation_decided")
def revocation_was_decided(sender, revocation, **kwargs):
    if outbox.subscribers(EventType.REVOCATION_DECIDED):
        outbox.record(
            EventType.REVOCATION_DECIDED,
            [(payloads.phone_of(revocation), payloads.revocation(revocation))],
        )


@receiver(drift_found, dispatch_uid="webhooks_reconciliation_drift")
def drift_was_found(sender, drift, **kwargs):
    if outbox.subscribers(EventType.RECONCILIATION_DRIFT):
        outbox.record(
            EventType.RECONCILIATION_DRIFT, [(payloads.phone_of(drift), payloads.drift(drift))]
        )
