"""When every provider is in step with a revocation (issue "Revocation by any reasonable
means", measurement).

A revocation is linked, when it is applied (at receipt, or by a revoke decision), to the
provider deliveries it caused (`Revocation.syncs`: the ProviderSync rows its history events
planned). It is in step once each of them is settled: succeeded (an echo of a change the
provider applied itself included), local only (the provider cannot be told; the portal's
sendability check enforces it, and nothing further will be sent), or superseded by a later
delivery to the same target that settled (a later delivery sends the portal's state at its
time, this revocation included). A failed one is not settled until staff retry it and it
succeeds. The moment is written once, as a RevocationInStep row, by whichever settles last:
the worker's `sync_settled` signal, or the revocation itself when nothing was owed.
`revocation_in_step` then lets reporting.metrics observe the time since received_at.
"""

import logging
from datetime import datetime

from django.db import IntegrityError, transaction
from django.db.models import Q
from django.dispatch import receiver
from django.utils import timezone

from subscriptions.consent.signals import revocation_in_step, sync_settled
from subscriptions.delivery.state import target_of
from subscriptions.models import (
    ProviderSync,
    Revocation,
    RevocationDecision,
    RevocationDecisionKind,
    RevocationInStep,
    SyncStatus,
)

logger = logging.getLogger("subscriptions.revocations")

SETTLED = (SyncStatus.SUCCEEDED, SyncStatus.LOCAL_ONLY)


def caused_syncs(events) -> list[ProviderSync]:
    """The provider deliveries `events` planned (rows written in the service's transaction,
    before this runs): no query when the plan handed them over (delivery/plan.py)."""
    ids = [event.pk for event in events if event.pk]
    if ids and all(hasattr(event, "planned_syncs") for event in events):
        return [sync for event in events for sync in event.planned_syncs]
    return list(ProviderSync.objects.filter(event_id__in=ids)) if ids else []


def link(revocation: Revocation, syncs: list[ProviderSync]) -> None:
    """Link deliveries to a saved revocation (a link written already is kept)."""
    if syncs:
        Revocation.syncs.through.objects.bulk_create(
            [
                Revocation.syncs.through(revocation_id=revocation.pk, providersync_id=sync.pk)
                for sync in syncs
            ],
            ignore_conflicts=True,
        )


def link_syncs(revocation: Revocation, events) -> list[ProviderSync]:
    """Link the provider deliveries `events` planned to a saved revocation; returns them."""
    syncs = caused_syncs(events)
    link(revocation, syncs)
    return syncs


def _settled_as(sync: ProviderSync) -> str | None:
    """The settled status that stands for `sync`, or None while it is owed."""
    if sync.status in SETTLED:
        return sync.status
    if sync.status == SyncStatus.SUPERSEDED:
        return (
            target_of(sync)
            .filter(pk__gt=sync.pk, status__in=SETTLED)
            .order_by("pk")
            .values_list("status", flat=True)
            .first()
        )
    return None


def _is_applied(revocation: Revocation) -> bool:
    if revocation.applied_at is not None:
        return True
    return RevocationDecision.objects.filter(
        revocation=revocation, decision=RevocationDecisionKind.REVOKE
    ).exists()


def _in_step(revocation, statuses, now):
    return RevocationInStep(
        revocation=revocation,
        in_step_at=now or timezone.now(),
        syncs=len(statuses),
        local_only=statuses.count(SyncStatus.LOCAL_ONLY),
    )


def record_if_in_step(revocation: Revocation, now: datetime | None = None):
    """Write the revocation's RevocationInStep when it is applied and every delivery it
    caused has settled; None when not yet (or written already)."""
    if RevocationInStep.objects.filter(revocation=revocation).exists():
        return None
    if not _is_applied(revocation):
        return None
    statuses = [_settled_as(sync) for sync in revocation.syncs.all()]
    if None in statuses:
        return None
    try:
        with transaction.atomic():
            step = _in_step(revocation, statuses, now)
            step.save()
    except IntegrityError:  # another worker settled the last one at the same moment
        return None
    revocation_in_step.send(sender=Revocation, revocation=revocation, in_step=step)
    return step


def in_step_at_creation(revocation: Revocation, syncs: list[ProviderSync]):
    """The RevocationInStep of a revocation being applied (unsaved; it is written with the
    revocation): in step at once when none of its deliveries is owed (nothing to tell, or
    only echoes of what the provider applied itself); otherwise None, and the worker settles
    it."""
    statuses = [_settled_as(sync) for sync in syncs]
    if None in statuses:
        return None
    return _in_step(revocation, statuses, revocation.applied_at)


def waiting_on(syncs: list[ProviderSync]):
    """Revocations not yet in step that a delivery to one of these rows' targets, up to
    the row, was owed to: one query for a whole batch of settled rows."""
    newest: dict[tuple[int, int, int], int] = {}
    for sync in syncs:
        key = (sync.contact_id, sync.short_code_id, sync.provider_id)
        newest[key] = max(sync.pk, newest.get(key, 0))
    owed = Q()
    for (contact_id, short_code_id, provider_id), pk in newest.items():
        owed |= Q(
            syncs__contact_id=contact_id,
            syncs__short_code_id=short_code_id,
            syncs__provider_id=provider_id,
            syncs__pk__lte=pk,
        )
    return Revocation.objects.filter(owed, in_step__isnull=True).distinct()


@receiver(sync_settled, dispatch_uid="revocations.in_step")
def settle(sender, syncs, **kwargs):
    for revocation in waiting_on(syncs):
        record_if_in_step(revocation)
