"""Delivery, in the worker: claim a sync row, compare the portal's state with what the
provider is known to hold, and ask the adapter to close the gap.

A delivery is three steps, the middle one outside any transaction:
1. claim (claims.py): one transaction for the row (or the rows of a grouped task);
2. attempt: the adapter's calls, their call log kept in memory;
3. record (record.py): one transaction for the outcome, the call log and what follows
   (a retry, a row that waited)."""

import logging

from django.db import transaction
from django.utils import timezone

from subscriptions.delivery import policy
from subscriptions.delivery.claims import claim_many
from subscriptions.delivery.overlap import call_slot
from subscriptions.delivery.plan import enqueue_syncs
from subscriptions.delivery.record import Outcome, record
from subscriptions.models import ProviderSync, SyncStatus
from subscriptions.providers.base import PermanentError, ProviderError, redacted
from subscriptions.providers.registry import adapter_for

logger = logging.getLogger("subscriptions.delivery")


def claim(sync_id, now):
    """Claim one row: (row, reconciliation), or None when the row is not due, or another row
    of its target is in flight (that delivery enqueues the next one when it is done)."""
    claimed = claim_many([sync_id], now)
    return claimed[0] if claimed else None


def deliver_sync(sync_id, now=None):
    """Deliver one outbox row. Runs in the worker, outside any transaction."""
    claimed = claim(sync_id, now or timezone.now())
    if claimed is None:
        return None
    return deliver_claimed(*claimed)


def deliver_claimed(row, rec):
    """Ask the adapter to reconcile a claimed row and record what came of it."""
    record([attempt(row, rec)])
    return row


def attempt(row, rec) -> Outcome:
    """The adapter's calls for a claimed row (holding one of the process's call slots);
    what they came to."""
    with call_slot():
        return _call(row, rec)


def _call(row, rec):
    outcome = Outcome(row, rec)
    if waited_too_long(row):
        outcome.released = True
        return outcome
    adapter = adapter_for(row.provider, sync=row, call_log=outcome.calls)
    try:
        if not row.provider.is_active:
            raise _inactive(row.provider)
        result = adapter.reconcile(rec)
    except ProviderError as error:
        # What may have arrived is unknown: a later change is sent whichever way it goes.
        if error.maybe_applied:
            rec.outcome_unknown()
        outcome.error = redacted(error, row.provider)
    else:
        outcome.status = SyncStatus.LOCAL_ONLY if result.local_only else SyncStatus.SUCCEEDED
        outcome.detail = result.describe()
    return outcome


def waited_too_long(row) -> bool:
    """A claimed row whose call would start with less than half its lease left (it waited
    for its turn in a grouped task, or for a call slot) goes back to the queue instead: the
    lease must outlast the call, or a newer claim of the target could race it."""
    return timezone.now() + policy.lease() / 2 > row.locked_until


def _inactive(account):
    return PermanentError(f"provider account {account.name!r} is inactive")


def retry(sync_ids):
    """Staff retry (admin action): failed or local-only rows go back to pending now."""
    rows = ProviderSync.objects.filter(
        pk__in=sync_ids, status__in=[SyncStatus.FAILED, SyncStatus.LOCAL_ONLY]
    )
    ids = list(rows.values_list("pk", flat=True))
    rows.update(
        status=SyncStatus.PENDING,
        attempts=0,
        next_attempt_at=timezone.now(),
        updated_at=timezone.now(),
    )
    transaction.on_commit(lambda: enqueue_syncs(ids))
    return len(ids)
