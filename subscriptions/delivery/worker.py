"""Delivery, in the worker: claim a sync row, compare the portal's state with what the
provider is known to hold, and ask the adapter to close the gap."""

import logging

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from subscriptions.consent.signals import sync_settled
from subscriptions.delivery import tasks
from subscriptions.delivery.plan import enqueue_syncs
from subscriptions.delivery.policy import (
    enqueue,
    failure_text,
    lease,
    max_attempts,
    next_attempt_at,
)
from subscriptions.delivery.state import (
    account_filter,
    decided_out,
    known_state,
    lock_contact,
    next_version,
    target_of,
    to_json,
)
from subscriptions.models import (
    Contact,
    Keyword,
    KeywordKind,
    ProviderSync,
    Status,
    Subscription,
    SyncStatus,
)
from subscriptions.providers.base import PermanentError, ProviderError, Reconciliation, redacted
from subscriptions.providers.registry import adapter_for

logger = logging.getLogger("subscriptions.delivery")


def claim(sync_id, now):
    """Mark the row sending (one attempt more), supersede the target's other waiting rows and
    read what to reconcile: (row, reconciliation). None when the row is not due, or another
    row of the target is in flight (that delivery enqueues the next one when it is done)."""
    with transaction.atomic():
        # Every claim for this contact, and every consent change of it, queues here.
        contact = Contact.objects.select_for_update(of=("self",)).filter(syncs=sync_id)
        if not contact.values_list("pk", flat=True):
            return None
        # Waits (briefly) rather than skips when the sweeper holds the row: a skipped row
        # would wait for its re-driven task at the back of the queue. of=("self",): the
        # joined short code and account rows are shared by every row.
        row = (
            ProviderSync.objects.select_for_update(of=("self",))
            .select_related("contact", "short_code", "provider")
            .filter(pk=sync_id)
            .first()
        )
        if row is None or not _claimable(row, now):
            return None
        in_flight = (
            target_of(row)
            .exclude(pk=row.pk)
            .filter(status=SyncStatus.SENDING, locked_until__gt=now)
            .values_list("locked_until", flat=True)
            .first()
        )
        if in_flight is not None:
            row.next_attempt_at = in_flight
            row.save(update_fields=["next_attempt_at", "updated_at"])
            return None
        if row.attempts >= max_attempts():
            row.status = SyncStatus.FAILED
            row.locked_until = None
            row.last_error = f"gave up after {row.attempts} attempts (worker lost)"
            row.save(update_fields=["status", "locked_until", "last_error", "updated_at"])
            return None
        target_of(row).exclude(pk=row.pk).filter(
            Q(status=SyncStatus.PENDING) | Q(status=SyncStatus.SENDING, locked_until__lte=now),
        ).update(
            status=SyncStatus.SUPERSEDED,
            locked_until=None,
            updated_at=now,
            detail=f"superseded by sync #{row.pk}",
        )
        rec = reconciliation(row)
        row.status = SyncStatus.SENDING
        row.attempts += 1
        row.locked_until = now + lease()
        row.state, row.state_version = to_json(rec.in_flight()), next_version(row)
        row.save(
            update_fields=[
                "status",
                "attempts",
                "locked_until",
                "state",
                "state_version",
                "updated_at",
            ]
        )
        return row, rec


def _claimable(row, now):
    if row.status == SyncStatus.PENDING:
        return True
    return (
        row.status == SyncStatus.SENDING
        and row.locked_until is not None
        and row.locked_until <= now
    )


def reconciliation(row):
    """The portal's current state for the row's target next to what the provider knows."""
    account_keywords = list(
        Keyword.objects.filter(
            account_filter(row.provider_id),
            short_code_id=row.short_code_id,
            kind__in=[KeywordKind.PROGRAM, KeywordKind.STOP],
        ).order_by("word")
    )
    keywords = {kw.pk: kw for kw in account_keywords if kw.kind == KeywordKind.PROGRAM}
    opted_in = dict(
        Subscription.objects.filter(
            contact_id=row.contact_id,
            short_code_id=row.short_code_id,
            status=Status.OPTED_IN,
        ).values_list("keyword_id", "keyword__word")
    )
    known = known_state(row.contact_id, row.short_code_id, row.provider_id)
    decided, quiet = decided_out(row, keywords, known)
    return Reconciliation(
        contact=row.contact,
        short_code=row.short_code,
        account=row.provider,
        keywords=keywords,
        desired={pk: pk in opted_in for pk in keywords},
        known=known,
        stop_keyword=next((kw for kw in account_keywords if kw.kind == KeywordKind.STOP), None),
        other_accounts_in=sorted(word for pk, word in opted_in.items() if pk not in keywords),
        decided_out=decided,
        quiet=quiet,
    )


def deliver_sync(sync_id, now=None):
    """Deliver one outbox row. Runs in the worker, outside any transaction."""
    claimed = claim(sync_id, now or timezone.now())
    if claimed is None:
        return None
    return deliver_claimed(*claimed)


def deliver_claimed(row, rec):
    """Ask the adapter to reconcile a claimed row and record what came of it."""
    try:
        if not row.provider.is_active:
            raise _inactive(row.provider)
        result = adapter_for(row.provider, sync=row).reconcile(rec)
    except ProviderError as error:
        # What may have arrived is unknown: a later change is sent whichever way it goes.
        if error.maybe_applied:
            rec.outcome_unknown()
        _record_failure(row, redacted(error, row.provider), rec.reached)
    else:
        _finish(
            row,
            rec.settled(),
            status=SyncStatus.LOCAL_ONLY if result.local_only else SyncStatus.SUCCEEDED,
            detail=result.describe(),
        )
    enqueue_waiting(row)
    return row


def _inactive(account):
    return PermanentError(f"provider account {account.name!r} is inactive")


def _finish(row, reached, **fields):
    """Write the attempt's result and the provider state it reached, unless the row was taken
    from us meanwhile (lease ran out and another worker superseded it). What others marked
    unknown while it was in flight (a handset's text the provider applied around our calls)
    stays unknown."""
    with transaction.atomic():
        lock_contact(row.contact_id)
        state = {**reached, **dict.fromkeys(unknown_since(row), None)}
        fields.update(state=to_json(state), state_version=next_version(row))
        updated = ProviderSync.objects.filter(
            pk=row.pk,
            status=SyncStatus.SENDING,
            attempts=row.attempts,
        ).update(locked_until=None, updated_at=timezone.now(), **fields)
    if not updated:
        logger.warning("sync #%s was taken over while in flight; result dropped", row.pk)
    for name, value in fields.items():
        setattr(row, name, value)
    if updated and row.status in SETTLED:
        announce_settled(row)


SETTLED = frozenset({SyncStatus.SUCCEEDED, SyncStatus.LOCAL_ONLY})


def announce_settled(row):
    """`sync_settled` for a row whose result is committed; a receiver's failure (it only
    measures) is logged and never fails the delivery."""
    for _receiver, response in sync_settled.send_robust(sender=ProviderSync, sync=row):
        if isinstance(response, Exception):
            logger.error("sync_settled receiver failed for sync #%s: %r", row.pk, response)


def unknown_since(row):
    """Programs that states written after this row's claim marked unknown."""
    later = target_of(row).exclude(pk=row.pk).filter(state_version__gt=row.state_version)
    return {
        int(pk)
        for state in later.values_list("state", flat=True)
        for pk, value in state.items()
        if value is None
    }


def _record_failure(row, error, reached):
    """What arrived before the failure is the provider's state now: the retry compares with
    it and does not repeat those calls (each SFMC opt-in texts the person)."""
    now = timezone.now()
    retry_at = next_attempt_at(row.attempts, error, now)
    if retry_at is None:
        logger.warning("sync #%s failed: %s", row.pk, error)
        _finish(
            row, reached, status=SyncStatus.FAILED, last_error=failure_text(row.attempts, error)
        )
        return
    _finish(
        row, reached, status=SyncStatus.PENDING, next_attempt_at=retry_at, last_error=str(error)
    )
    enqueue(tasks.deliver_sync, row.pk, run_after=retry_at)


def enqueue_waiting(row):
    """A change that arrived while this row was in flight waited for it: go on with it."""
    waiting = (
        target_of(row)
        .filter(status=SyncStatus.PENDING)
        .exclude(pk=row.pk)
        .order_by("id")
        .values_list("pk", flat=True)
        .first()
    )
    if waiting is not None and row.status != SyncStatus.PENDING:
        enqueue_syncs([waiting])


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
