"""Recording what deliveries came to, one or many in one transaction: the outcome of each
row, the provider state it reached (as a new state version), its provider call log, and the
tasks that go on from there (a retry at its backoff, a row of the target that waited).

Under the contacts' locks (claims.lock_contacts), each target's rows are read once. A row
taken from its worker meanwhile (its lease ran out and another claim superseded or took it)
keeps what that claim wrote: the result is dropped, its call log kept. What others marked
unknown while a row was in flight (a handset's text the provider applied around our calls)
stays unknown."""

import logging
from dataclasses import dataclass, field

from django.db import transaction
from django.utils import timezone

from subscriptions.common.bulk import update_each
from subscriptions.common.queueing import queued_in_database, traced_enqueue_each
from subscriptions.consent.signals import sync_settled
from subscriptions.delivery import tasks
from subscriptions.delivery.claims import lock_contacts
from subscriptions.delivery.policy import failure_text, next_attempt_at
from subscriptions.delivery.state import to_json
from subscriptions.delivery.targets import Targets, target_key
from subscriptions.models import ProviderCall, ProviderSync, SyncStatus
from subscriptions.providers.base import ProviderError, Reconciliation

logger = logging.getLogger("subscriptions.delivery")

RESULT_FIELDS = (
    "status",
    "attempts",
    "locked_until",
    "next_attempt_at",
    "state",
    "state_version",
    "last_error",
    "detail",
    "updated_at",
)


@dataclass
class Outcome:
    """What one claimed row's attempt came to: `status` and `detail` when the provider was
    brought in line (succeeded or local_only), `error` when it failed, neither when the
    attempt was not made (`released`). `calls` holds its call log rows, unsaved."""

    row: ProviderSync
    rec: Reconciliation
    calls: list = field(default_factory=list)
    status: str = ""
    detail: str = ""
    error: ProviderError | None = None
    released: bool = False
    current: ProviderSync | None = None  # the row as read under the lock, once recorded

    def reached(self) -> dict:
        """The provider's state after the attempt (Reconciliation.settled / reached)."""
        if self.status:
            return self.rec.settled()
        return self.rec.reached


def record(outcomes: list[Outcome]) -> None:
    """Write the outcomes; enqueue their retries and the rows that waited for them."""
    if not outcomes:
        return
    with transaction.atomic():
        lock_contacts(sorted({o.row.contact_id for o in outcomes}))
        targets = Targets.read(target_key(o.row) for o in outcomes)
        applied = [o for o in outcomes if _apply(o, targets)]
        update_each([o.current for o in applied], RESULT_FIELDS)
        ProviderCall.objects.bulk_create([call for o in outcomes for call in o.calls])
        follow_ups = _follow_ups(outcomes, applied, targets)
        if queued_in_database(tasks.deliver_sync):
            _enqueue(*follow_ups)  # with the results, in this transaction
    if not queued_in_database(tasks.deliver_sync):
        _enqueue(*follow_ups)  # e.g. the tests' immediate backend: runs them now
    announce_settled([o.current for o in applied if o.current.status in SETTLED])


SETTLED = frozenset({SyncStatus.SUCCEEDED, SyncStatus.LOCAL_ONLY})


def announce_settled(rows: list[ProviderSync]) -> None:
    """One `sync_settled` for the rows whose results were committed together
    (revocations/measure.py listens, with one query for all of them); a receiver's failure
    (it only measures) is logged and never fails the delivery."""
    if not rows:
        return
    for _receiver, response in sync_settled.send_robust(sender=ProviderSync, syncs=rows):
        if isinstance(response, Exception):
            ids = ", ".join(f"#{row.pk}" for row in rows)
            logger.error("sync_settled receiver failed for syncs %s: %r", ids, response)


def _apply(outcome, targets):
    """Put the outcome on the target's row read under the lock; False if it was taken."""
    row = outcome.row
    key = target_key(row)
    current = targets.by_pk.get(row.pk)
    if current is None or current.status != SyncStatus.SENDING or current.attempts != row.attempts:
        logger.warning("sync #%s was taken over while in flight; result dropped", row.pk)
        outcome.current = None
        _mirror(outcome, _fields(outcome, row))
        return False
    later_unknown = {
        int(pk)
        for other in targets.of(key)
        if other.pk != row.pk
        and other.state_version is not None
        and row.state_version is not None
        and other.state_version > row.state_version
        for pk, value in (other.state or {}).items()
        if value is None
    }
    fields = _fields(outcome, row)
    state = {**outcome.reached(), **dict.fromkeys(later_unknown, None)}
    fields.update(state=to_json(state), state_version=targets.next_version(key))
    for name, value in fields.items():
        setattr(current, name, value)
    outcome.current = current
    _mirror(outcome, fields)
    return True


def _fields(outcome, row):
    now = timezone.now()
    fields = {"locked_until": None, "updated_at": now}
    if outcome.status:
        return {**fields, "status": outcome.status, "detail": outcome.detail}
    if outcome.released:  # never attempted: it goes back to the queue as it was
        return {
            **fields,
            "status": SyncStatus.PENDING,
            "attempts": row.attempts - 1,
            "next_attempt_at": now,
        }
    error = outcome.error
    retry_at = next_attempt_at(row.attempts, error, now)
    if retry_at is None:
        logger.warning("sync #%s failed: %s", row.pk, error)
        return {
            **fields,
            "status": SyncStatus.FAILED,
            "last_error": failure_text(row.attempts, error),
        }
    return {
        **fields,
        "status": SyncStatus.PENDING,
        "next_attempt_at": retry_at,
        "last_error": str(error),
    }


def _mirror(outcome, fields):
    """The caller's row object shows what was recorded (or would have been)."""
    for name, value in fields.items():
        setattr(outcome.row, name, value)


def _follow_ups(outcomes, applied, targets):
    """(ids to run now, {id: when} retries): a row of the target that waited for a row done
    with (not going to be retried), and each applied retry."""
    now_ids, later = [], {}
    for o in applied:
        if o.current.status == SyncStatus.PENDING:
            if o.released:
                now_ids.append(o.row.pk)
            else:
                later[o.row.pk] = o.current.next_attempt_at
    for o in outcomes:
        if o.row.status == SyncStatus.PENDING:
            continue
        waiting = next(
            (
                r.pk
                for r in targets.of(target_key(o.row))
                if r.status == SyncStatus.PENDING and r.pk != o.row.pk
            ),
            None,
        )
        if waiting is not None and waiting not in now_ids:
            now_ids.append(waiting)
    return now_ids, later


def _enqueue(now_ids, later):
    if now_ids:
        traced_enqueue_each(tasks.deliver_sync, now_ids)
    # A backend that cannot defer leaves the retries to the sweeper (next_attempt_at says when).
    if later and tasks.deliver_sync.get_backend().supports_defer:
        traced_enqueue_each(tasks.deliver_sync, list(later), run_after=later)
