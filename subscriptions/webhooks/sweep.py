"""The webhook sweeper: re-drives deliveries a lost enqueue or a killed worker left behind.
Run by `manage.py sweep_outbox` beside the provider outbox's sweep."""

from collections import Counter
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Exists, OuterRef, Q
from django.utils import timezone

from subscriptions.models import DeliveryStatus, WebhookDelivery
from subscriptions.webhooks.outbox import enqueue_drains


def sweep(now=None, limit: int = 1000) -> int:
    """Enqueue the heads of lanes that wait too long: forgotten (due for
    PORTAL_WEBHOOKS_REDRIVE_SECONDS and not leased) or stuck (a lease that ran out).
    Only a lane's first pending row is taken: the rest follow it. Drains of their endpoints
    are enqueued (no more than already wait in the queue). Returns how many rows."""
    now = now or timezone.now()
    forgotten = now - timedelta(seconds=settings.PORTAL_WEBHOOKS_REDRIVE_SECONDS)
    earlier = WebhookDelivery.objects.filter(
        endpoint_id=OuterRef("endpoint_id"),
        phone=OuterRef("phone"),
        status=DeliveryStatus.PENDING,
        id__lt=OuterRef("id"),
    )
    due = WebhookDelivery.objects.filter(
        Q(locked_until__isnull=True, next_attempt_at__lte=forgotten)
        | Q(locked_until__lte=now, next_attempt_at__lte=now),
        Q(phone="") | ~Exists(earlier),
        status=DeliveryStatus.PENDING,
        endpoint__is_active=True,
    )
    with transaction.atomic():
        heads = list(
            due.select_for_update(skip_locked=True, of=("self",))
            .order_by("next_attempt_at", "id")
            .values_list("pk", "endpoint_id")[:limit]
        )
        # Due now and unleased: claimable at once, and not forgotten again for a while.
        WebhookDelivery.objects.filter(pk__in=[pk for pk, _ in heads]).update(
            next_attempt_at=now, locked_until=None
        )
    if heads:
        enqueue_drains(Counter(endpoint_id for _, endpoint_id in heads))
    return len(heads)
