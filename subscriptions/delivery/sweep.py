"""The sweeper: re-drives what a lost enqueue or a killed worker left behind."""

import logging

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from subscriptions.delivery import tasks
from subscriptions.delivery.policy import enqueue, lease, redrive_after
from subscriptions.models import (
    MessageStatus,
    OutboundMessage,
    ProviderSync,
    SyncStatus,
)

logger = logging.getLogger("subscriptions.delivery")


def sweep(now=None, limit=1000):
    """Re-drive forgotten and stuck outbox rows and queued texts; returns (syncs, texts).

    Forgotten: still waiting PORTAL_DELIVERY_REDRIVE_SECONDS after they were due (a lost
    enqueue, or a retry on a backend that cannot defer tasks). Stuck: claimed by a worker
    (a `sending` row, a leased text) whose lease ran out.
    Taken with SKIP LOCKED so several sweepers never pick the same rows; the rows get a new
    next_attempt_at one lease ahead so the next sweep does not enqueue them again while the
    workers work through the queue.
    """
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
        enqueue(tasks.deliver_sync, pk)
    for pk in message_ids:
        enqueue(tasks.deliver_message, pk)
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
