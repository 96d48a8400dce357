"""Claiming outbox rows, one or many in one transaction.

The rows' contacts are locked first, in id order (as the batch services lock them, so that
claims and imports cannot deadlock): every claim of a target, and every consent change of
its contact, queues there. Then the rows themselves, every row of their targets (read once)
and the portal's state of those targets (targets.py). Each due row is then, in the order
given:
- left waiting when another row of its target is in flight (that delivery enqueues the next
  one when it is done): its next attempt is that row's lease end;
- failed when it has used up its attempts (its workers were lost);
- claimed: sending, one attempt more, a lease, its target's other waiting rows superseded,
  and the changes it is about to make recorded as unknown (a worker that dies mid-call
  leaves them unknown, not forgotten).
All of that is written in one statement."""

from django.db import transaction
from django.db.models import Subquery
from django.utils import timezone

from subscriptions.common.bulk import update_each
from subscriptions.delivery.policy import lease, max_attempts
from subscriptions.delivery.state import to_json
from subscriptions.delivery.targets import PortalState, Targets, target_key
from subscriptions.models import Contact, ProviderSync, SyncStatus
from subscriptions.providers.base import Reconciliation

# Every field a claim may change (one bulk UPDATE writes them for all the rows it changed).
CLAIM_FIELDS = (
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


def lock_contacts(contact_ids) -> None:
    """Lock these contacts, in id order."""
    list(
        Contact.objects.select_for_update(of=("self",))
        .filter(pk__in=contact_ids)
        .order_by("pk")
        .values_list("pk", flat=True)
    )


def claim_many(sync_ids, now) -> list[tuple[ProviderSync, Reconciliation]]:
    """Claim the due rows among `sync_ids`: [(row, reconciliation)] for those claimed."""
    ids = list(dict.fromkeys(sync_ids))
    if not ids:
        return []
    with transaction.atomic():
        lock_contacts(Subquery(ProviderSync.objects.filter(pk__in=ids).values("contact_id")))
        # Read after the lock: what an earlier claim or result of these targets wrote. The
        # rows need no lock of their own: their status only changes under their contact's.
        # (A sweep re-driving one meanwhile may see its next_attempt_at written back: it
        # re-drives it once more, a task that finds nothing due.)
        targets = Targets.read_for(ids)
        due = [
            targets.by_pk[pk]
            for pk in ids
            if pk in targets.by_pk and _claimable(targets.by_pk[pk], now)
        ]
        if not due:
            return []
        changed, taken = _decide(due, targets, now)
        claimed = _mark_sending(taken, targets, now)
        changed.extend(row for row, _rec in claimed)
        update_each(changed, CLAIM_FIELDS)
    return claimed


def _claimable(row, now):
    if row.status == SyncStatus.PENDING:
        return True
    return (
        row.status == SyncStatus.SENDING
        and row.locked_until is not None
        and row.locked_until <= now
    )


def _decide(due, targets, now):
    """(rows changed without a claim, rows to claim): the first due row of each target is
    claimed, unless one of its rows is in flight or it is out of attempts."""
    changed, taken, seen = [], [], set()
    for row in due:
        key = target_key(row)
        if key in seen:  # superseded by the row of its target claimed before it
            continue
        seen.add(key)
        others = [other for other in targets.of(key) if other.pk != row.pk]
        in_flight = [
            other.locked_until
            for other in others
            if other.status == SyncStatus.SENDING
            and other.locked_until
            and other.locked_until > now
        ]
        if in_flight:
            row.next_attempt_at = max(in_flight)
            row.updated_at = timezone.now()
            changed.append(row)
        elif row.attempts >= max_attempts():
            row.status, row.locked_until = SyncStatus.FAILED, None
            row.last_error = f"gave up after {row.attempts} attempts (worker lost)"
            row.updated_at = timezone.now()
            changed.append(row)
        else:
            changed.extend(_supersede(others, row, now))
            taken.append(row)
    return changed, taken


def _supersede(others, row, now):
    """The target's other waiting rows (and one whose worker was lost): `row` delivers the
    target's current state for them."""
    superseded = []
    for other in others:
        waiting = other.status == SyncStatus.PENDING
        lost = (
            other.status == SyncStatus.SENDING
            and other.locked_until is not None
            and other.locked_until <= now
        )
        if waiting or lost:
            other.status, other.locked_until = SyncStatus.SUPERSEDED, None
            other.updated_at, other.detail = now, f"superseded by sync #{row.pk}"
            superseded.append(other)
    return superseded


def _mark_sending(taken, targets, now):
    if not taken:
        return []
    portal = PortalState(taken)
    claimed = []
    for row in taken:
        key = target_key(row)
        rec = portal.reconciliation(row, targets.known(key))
        row.status = SyncStatus.SENDING
        row.attempts += 1
        row.locked_until = now + lease()
        row.state, row.state_version = to_json(rec.in_flight()), targets.next_version(key)
        row.updated_at = timezone.now()
        claimed.append((row, rec))
    return claimed
