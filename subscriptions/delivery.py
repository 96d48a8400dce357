"""Durable delivery of consent changes to the providers (the ProviderSync outbox).

How a change travels:
1. `plan(events)` (called by the subscription_changed receiver, inside the service's
   transaction) writes one ProviderSync row per (contact, short code, provider account) the
   events touch and enqueues `tasks.deliver_sync` for each on commit.
2. `deliver_sync(id)` (in the worker) claims the row, reads the portal's CURRENT state for
   its target, compares it with the state the provider is known to hold (the target's
   highest `state_version`; every writer of a state holds the contact's row lock) and asks
   the adapter to close the gap. While it runs, the changes it makes are recorded as
   unknown, so that a worker that dies mid-call leaves them unknown, not forgotten.
   Retries are therefore idempotent and a later change supersedes an earlier one: claiming
   a row marks the target's other pending rows superseded, and only one row per target
   is in flight at a time (the contact row lock serialises claims), so the provider sees
   changes in the order the portal made them.
3. Failures: retryable errors come back after exponential backoff with jitter (never
   sooner than the provider's Retry-After) until PORTAL_DELIVERY_MAX_ATTEMPTS; permanent
   errors stop at once. Both leave the row `failed` with the error, visible in the admin,
   which can retry it.
4. `sweep()` (`manage.py sweep_outbox`) re-drives what a lost enqueue or a killed worker
   left behind: pending rows that are due, and rows still `sending` after their lease
   (PORTAL_DELIVERY_LEASE_SECONDS) ran out; pending rows count as lost
   PORTAL_DELIVERY_REDRIVE_SECONDS after they were due. Schedule it next to `manage.py db_worker`:
   `manage.py sweep_outbox --every 30` as a long-running process, or
   `manage.py sweep_outbox` from cron / a systemd timer each minute. With a task backend
   that cannot defer tasks (the immediate backend of the tests), retries wait for it.

Outbound texts (messaging.py) use the same retry policy and the same sweeper.
"""

import logging
import random
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Max, Q
from django.utils import timezone

from subscriptions.models import (
    Action,
    Contact,
    Keyword,
    KeywordKind,
    MessageStatus,
    OutboundMessage,
    ProviderSync,
    Source,
    Status,
    Subscription,
    SyncStatus,
)
from subscriptions.providers.base import PermanentError, ProviderError, Reconciliation, redacted
from subscriptions.providers.registry import adapter_for

logger = logging.getLogger("subscriptions.delivery")

# The key an inbound handler sets in Context.detail so that the change is not sent back to
# the provider account it came from (see receivers.py).
ORIGIN_KEY = "provider_account_id"
# How long before the portal saw a handset's text the provider may have applied it
# (forwarding delays and retries, clocks).
HANDSET_FORWARD_SLACK = timedelta(minutes=5)


def lease():
    return timedelta(seconds=settings.PORTAL_DELIVERY_LEASE_SECONDS)


def redrive_after():
    """How long a due row may wait for its queued task before it counts as lost. Longer
    than the worst expected queue backlog: a re-drive of a row whose task is merely late
    costs a duplicate (harmless, no-op) task."""
    return timedelta(seconds=settings.PORTAL_DELIVERY_REDRIVE_SECONDS)


def max_attempts():
    return settings.PORTAL_DELIVERY_MAX_ATTEMPTS


# Retry policy (provider syncs and outbound texts) ----------------------------------------


def backoff_seconds(attempts, retry_after=None):
    """Exponential backoff with jitter after `attempts` failed attempts, never shorter
    than the provider's Retry-After. The jitter keeps a recovered provider from being hit
    by every waiting row at the same second."""
    base = settings.PORTAL_DELIVERY_BACKOFF_SECONDS
    cap = settings.PORTAL_DELIVERY_BACKOFF_MAX_SECONDS
    ceiling = min(cap, base * 2 ** max(0, attempts - 1))
    delay = ceiling / 2 + random.uniform(0, ceiling / 2)  # jitter, not cryptography
    return max(delay, retry_after or 0)


def next_attempt_at(attempts, error: ProviderError, now):
    """When to try again after a failed attempt, or None when it must stop."""
    if not error.retryable or attempts >= max_attempts():
        return None
    return now + timedelta(seconds=backoff_seconds(attempts, error.retry_after))


def failure_text(attempts, error: ProviderError):
    if error.retryable:
        return f"gave up after {attempts} attempts: {error}"
    return f"permanent error: {error}"


def enqueue(task, pk, run_after=None):
    """Enqueue `task(pk)`, deferred when the backend can; otherwise a deferred attempt is
    left to the sweeper (the row's next_attempt_at says when)."""
    from subscriptions.tasks import traced_enqueue

    if run_after is None:
        traced_enqueue(task, pk)
    elif task.get_backend().supports_defer:
        traced_enqueue(task.using(run_after=run_after), pk)


def _enqueue_syncs(ids):
    from subscriptions.tasks import deliver_sync, traced_enqueue_each

    traced_enqueue_each(deliver_sync, ids)


# Planning: inside the service transaction ------------------------------------------------


def _account_filter(account_id):
    """Keywords owned by an account: its own, or the code's when the code is its."""
    return Q(provider_id=account_id) | Q(provider__isnull=True, short_code__provider_id=account_id)


def _accounts_serving(short_code, cache):
    if short_code.pk not in cache:
        owners = set(
            Keyword.objects.filter(short_code=short_code, provider__isnull=False).values_list(
                "provider_id", flat=True
            )
        )
        cache[short_code.pk] = {short_code.provider_id, *owners}
    return cache[short_code.pk]


def _targets(events):
    """{(contact id, short code id, account id): [events]} for the applied events."""
    targets, serving = {}, {}
    for event in events:
        if event.keyword_id:
            accounts = {event.keyword.account_id}
        else:  # code-wide (STOP, START): every account with programs on the code
            accounts = _accounts_serving(event.short_code, serving)
        for account_id in accounts:
            key = (event.contact_id, event.short_code_id, account_id)
            targets.setdefault(key, []).append(event)
    return targets


def _came_from(account_id, events):
    return all(str(e.detail.get(ORIGIN_KEY)) == str(account_id) for e in events)


def _handset_time(event):
    """When a handset's text reached the provider: its received_at when the forwarder said,
    else when the portal recorded it."""
    received = event.detail.get("received_at")
    return datetime.fromisoformat(received) if received else event.recorded_at


def _delivered_after_handset(row, events):
    """A handset text applied by the provider before it reached the portal: may a delivery
    to the same target since (one still in flight, or any attempt, failed ones included:
    a timed-out request may still have been applied) have changed the provider after it?
    Then the provider's state is unknown and the portal's is sent after all."""
    texts = [e for e in events if e.source == Source.MO]
    if not texts:
        return False
    since = min(_handset_time(e) for e in texts) - HANDSET_FORWARD_SLACK
    return (
        _target(row)
        .exclude(operation="echo")
        .exclude(status=SyncStatus.LOCAL_ONLY)
        .filter(
            Q(status=SyncStatus.SENDING) | Q(attempts__gt=0, updated_at__gte=since),
        )
        .exists()
    )


def plan(events):
    """Write the outbox rows for applied events and enqueue their delivery on commit."""
    rows = []
    for (contact_id, code_id, account_id), target_events in _targets(events).items():
        row = ProviderSync(
            contact_id=contact_id,
            short_code_id=code_id,
            provider_id=account_id,
            event=target_events[-1],
        )
        if _came_from(account_id, target_events):
            if _delivered_after_handset(row, target_events):
                _mark_unknown(row, target_events)
            else:
                _mark_echo(row, target_events)
        rows.append(row)
    ProviderSync.objects.bulk_create(rows)
    pending = [row.pk for row in rows if row.status == SyncStatus.PENDING]
    if pending:
        transaction.on_commit(lambda: _enqueue_syncs(pending))
    return rows


def _provider_now(row, events):
    """{program keyword id: opted in?} at the provider after it applied these changes
    itself. A stop it ran ended every program of the account on the code, also those the
    portal had already opted out (their own delivery may still be waiting)."""
    if any(e.action in (Action.STOP_ALL, Action.CUSTOM_STOP) for e in events):
        return dict.fromkeys(
            Keyword.objects.filter(
                _account_filter(row.provider_id),
                short_code_id=row.short_code_id,
                kind=KeywordKind.PROGRAM,
            ).values_list("pk", flat=True),
            False,
        )
    return {
        e.keyword_id: e.new_status == Status.OPTED_IN
        for e in events
        if e.keyword_id and e.keyword.kind == KeywordKind.PROGRAM
    }


def _mark_echo(row, events):
    """The provider itself reported these changes: nothing to send back, but remember that
    the provider is now in that state, so that a later change is compared with it."""
    known = _known_state(row.contact_id, row.short_code_id, row.provider_id)
    known.update(_provider_now(row, events))
    row.status = SyncStatus.SUCCEEDED
    row.operation = "echo"
    row.state, row.state_version = _to_json(known), _next_version(row)
    row.detail = "came from this provider account; not sent back"


def _mark_unknown(row, events):
    """A pending row that also records the changed programs' provider state as unknown, so
    that this delivery, or any later one that supersedes it, sends the portal's state for
    them whichever way it is."""
    known = _known_state(row.contact_id, row.short_code_id, row.provider_id)
    known.update(dict.fromkeys(_provider_now(row, events), None))
    row.state, row.state_version = _to_json(known), _next_version(row)
    row.detail = "the provider applied the handset's text around a delivery of ours: resent"


def _known_state(contact_id, code_id, account_id):
    """The provider-side state last delivered (or reported) for a target. By version, not
    by row: an older row delivered late knows more than a newer echo written before it."""
    last = (
        ProviderSync.objects.filter(
            contact_id=contact_id,
            short_code_id=code_id,
            provider_id=account_id,
            state_version__isnull=False,
        )
        .order_by("-state_version")
        .values_list("state", flat=True)
        .first()
    )
    return {int(pk): value for pk, value in (last or {}).items()}


def _next_version(row):
    """The next state version of the row's target. Callers hold the contact's row lock (the
    consent services, claims and results all take it), so max + 1 cannot collide."""
    latest = _target(row).aggregate(latest=Max("state_version"))["latest"]
    return (latest or 0) + 1


def _lock_contact(contact_id):
    list(
        Contact.objects.select_for_update(of=("self",))
        .filter(pk=contact_id)
        .values_list("pk", flat=True)
    )


def _to_json(state):
    return {str(pk): value for pk, value in sorted(state.items())}


# Delivery: in the worker ------------------------------------------------------------------


def _target(row):
    return ProviderSync.objects.filter(
        contact_id=row.contact_id, short_code_id=row.short_code_id, provider_id=row.provider_id
    )


def _claim(sync_id, now):
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
            _target(row)
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
        _target(row).exclude(pk=row.pk).filter(
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
        row.state, row.state_version = _to_json(rec.in_flight()), _next_version(row)
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
            _account_filter(row.provider_id),
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
    return Reconciliation(
        contact=row.contact,
        short_code=row.short_code,
        account=row.provider,
        keywords=keywords,
        desired={pk: pk in opted_in for pk in keywords},
        known=_known_state(row.contact_id, row.short_code_id, row.provider_id),
        stop_keyword=next((kw for kw in account_keywords if kw.kind == KeywordKind.STOP), None),
        other_accounts_in=sorted(word for pk, word in opted_in.items() if pk not in keywords),
    )


def deliver_sync(sync_id, now=None):
    """Deliver one outbox row. Runs in the worker, outside any transaction."""
    claimed = _claim(sync_id, now or timezone.now())
    if claimed is None:
        return None
    row, rec = claimed
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
            rec.desired,
            status=SyncStatus.LOCAL_ONLY if result.local_only else SyncStatus.SUCCEEDED,
            detail=result.describe(),
        )
    _enqueue_waiting(row)
    return row


def _inactive(account):
    return PermanentError(f"provider account {account.name!r} is inactive")


def _finish(row, reached, **fields):
    """Write the attempt's result and the provider state it reached, unless the row was taken
    from us meanwhile (lease ran out and another worker superseded it). What others marked
    unknown while it was in flight (a handset's text the provider applied around our calls)
    stays unknown."""
    with transaction.atomic():
        _lock_contact(row.contact_id)
        state = {**reached, **dict.fromkeys(_unknown_since(row), None)}
        fields.update(state=_to_json(state), state_version=_next_version(row))
        updated = ProviderSync.objects.filter(
            pk=row.pk,
            status=SyncStatus.SENDING,
            attempts=row.attempts,
        ).update(locked_until=None, updated_at=timezone.now(), **fields)
    if not updated:
        logger.warning("sync #%s was taken over while in flight; result dropped", row.pk)
    for name, value in fields.items():
        setattr(row, name, value)


def _unknown_since(row):
    """Programs that states written after this row's claim marked unknown."""
    later = _target(row).exclude(pk=row.pk).filter(state_version__gt=row.state_version)
    return {
        int(pk)
        for state in later.values_list("state", flat=True)
        for pk, value in state.items()
        if value is None
    }


def _record_failure(row, error, reached):
    """What arrived before the failure is the provider's state now: the retry compares with
    it and does not repeat those calls (each SFMC opt-in texts the person)."""
    from subscriptions.tasks import deliver_sync as deliver_task

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
    enqueue(deliver_task, row.pk, run_after=retry_at)


def _enqueue_waiting(row):
    """A change that arrived while this row was in flight waited for it: go on with it."""
    waiting = (
        _target(row)
        .filter(status=SyncStatus.PENDING)
        .exclude(pk=row.pk)
        .order_by("id")
        .values_list("pk", flat=True)
        .first()
    )
    if waiting is not None and row.status != SyncStatus.PENDING:
        _enqueue_syncs([waiting])


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
    transaction.on_commit(lambda: _enqueue_syncs(ids))
    return len(ids)


# Sweeper ---------------------------------------------------------------------------------


def sweep(now=None, limit=1000):
    """Re-drive forgotten and stuck outbox rows and queued texts; returns (syncs, texts).

    Forgotten: still waiting PORTAL_DELIVERY_REDRIVE_SECONDS after they were due (a lost
    enqueue, or a retry on a backend that cannot defer tasks). Stuck: claimed by a worker
    (a `sending` row, a leased text) whose lease ran out.
    Taken with SKIP LOCKED so several sweepers never pick the same rows; the rows get a new
    next_attempt_at one lease ahead so the next sweep does not enqueue them again while the
    workers work through the queue.
    """
    from subscriptions.tasks import deliver_message, deliver_sync

    now = now or timezone.now()
    # A waiting row normally has its task in the queue; only one still waiting long after
    # it was due has lost it.
    forgotten = now - redrive_after()
    sync_ids = _take_due(
        ProviderSync.objects.filter(
            Q(status=SyncStatus.PENDING, next_attempt_at__lte=forgotten)
            | Q(status=SyncStatus.SENDING, locked_until__lte=now, next_attempt_at__lte=now)
        ),
        now,
        limit,
    )
    # A text claimed by a worker that died is stuck as soon as the lease runs out.
    message_ids = _take_due(
        OutboundMessage.objects.filter(
            Q(locked_until__isnull=True, next_attempt_at__lte=forgotten)
            | Q(locked_until__lte=now, next_attempt_at__lte=now),
            status=MessageStatus.QUEUED,
        ),
        now,
        limit,
    )
    for pk in sync_ids:
        enqueue(deliver_sync, pk)
    for pk in message_ids:
        enqueue(deliver_message, pk)
    return len(sync_ids), len(message_ids)


def _take_due(queryset, now, limit):
    with transaction.atomic():
        ids = list(
            queryset.select_for_update(skip_locked=True)
            .order_by("next_attempt_at", "id")
            .values_list("pk", flat=True)[:limit]
        )
        queryset.model.objects.filter(pk__in=ids).update(next_attempt_at=now + lease())
    return ids
