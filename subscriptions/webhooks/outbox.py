"""Writing webhook events, inside the transaction of the change they announce: one
WebhookEvent per event and one WebhookDelivery per active endpoint that subscribed to its
type; a drain of each endpoint is enqueued when (and only if) that transaction commits.

Drains, not one task per delivery: a drain sends all of an endpoint's due deliveries, so a
commit enqueues one only when fewer drains of that endpoint wait in the queue than its new
rows can use (one per PORTAL_WEBHOOKS_BATCH rows, at most PORTAL_WEBHOOKS_DRAINS). A drain
that waits in the queue has not claimed yet: it will see every row committed before it
starts, so no row is left without one.
"""

import math
from datetime import datetime

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from subscriptions.common import memo
from subscriptions.common.queueing import traced_enqueue_each, waiting_by_first_arg
from subscriptions.delivery.policy import enqueue
from subscriptions.models import WebhookDelivery, WebhookEndpoint, WebhookEvent
from subscriptions.webhooks import tasks


def drains_for(rows: int) -> int:
    batch = max(1, settings.PORTAL_WEBHOOKS_BATCH)
    return max(1, min(settings.PORTAL_WEBHOOKS_DRAINS, math.ceil(rows / batch)))


def enqueue_drains(rows_by_endpoint: dict[int, int]) -> None:
    """Enqueue drains for endpoints that just got `rows` due deliveries each."""
    waiting = waiting_by_first_arg(tasks.deliver_endpoint, timezone.now())
    ids = []
    for endpoint_id, rows in sorted(rows_by_endpoint.items()):
        wanted = drains_for(rows) if waiting is not None else 1
        ids += [endpoint_id] * max(0, wanted - (waiting or {}).get(endpoint_id, 0))
    if ids:
        traced_enqueue_each(tasks.deliver_endpoint, ids)


def enqueue_drains_of(delivery_ids: list[int]) -> None:
    rows = WebhookDelivery.objects.filter(pk__in=delivery_ids).values_list("endpoint_id", flat=True)
    counts: dict[int, int] = {}
    for endpoint_id in rows:
        counts[endpoint_id] = counts.get(endpoint_id, 0) + 1
    enqueue_drains(counts)


def schedule_drain(endpoint_id: int, at: datetime) -> None:
    """A drain at `at` (retries falling due), unless one already waits to run by then.
    Without a queue that defers, the sweeper re-drives the retry."""
    waiting = waiting_by_first_arg(tasks.deliver_endpoint, at)
    if waiting is None or not waiting.get(endpoint_id):
        enqueue(tasks.deliver_endpoint, endpoint_id, run_after=at)


def _active_endpoints() -> tuple[tuple[int, frozenset], ...]:
    endpoints = WebhookEndpoint.objects.filter(is_active=True).values_list("pk", "events")
    return tuple((pk, frozenset(events or ())) for pk, events in endpoints)


def subscribers(event_type: str) -> list[int]:
    """Active endpoints that asked for `event_type` (few rows, kept per process:
    subscriptions.common.memo, dropped on every change of an endpoint; filtered here
    because SQLite cannot search inside a JSON list)."""
    endpoints = memo.lookup(memo.WEBHOOKS, "active", _active_endpoints)
    return [pk for pk, events in endpoints if event_type in events]


def record(event_type: str, items: list[tuple[str, dict]]) -> list[WebhookDelivery]:
    """Write one event per (phone, data) item and its deliveries; enqueue drains on commit."""
    endpoint_ids = subscribers(event_type)
    if not endpoint_ids or not items:
        return []
    now = timezone.now()
    events = WebhookEvent.objects.bulk_create(
        [
            WebhookEvent(
                type=event_type,
                phone=phone,
                payload={"type": event_type, "timestamp": now.isoformat(), "data": data},
            )
            for phone, data in items
        ]
    )
    deliveries = WebhookDelivery.objects.bulk_create(
        [
            WebhookDelivery(endpoint_id=endpoint_id, event=event, phone=event.phone)
            for event in events
            for endpoint_id in endpoint_ids
        ]
    )
    counts = dict.fromkeys(endpoint_ids, len(events))
    transaction.on_commit(lambda: enqueue_drains(counts))
    return deliveries
