"""Writing webhook events, inside the transaction of the change they announce: one
WebhookEvent per event and one WebhookDelivery per active endpoint that subscribed to its
type; delivery is enqueued when (and only if) that transaction commits."""

from django.db import transaction
from django.utils import timezone

from subscriptions.common import memo
from subscriptions.common.queueing import traced_enqueue_each
from subscriptions.models import WebhookDelivery, WebhookEndpoint, WebhookEvent
from subscriptions.webhooks import tasks


def enqueue_deliveries(ids: list[int]) -> None:
    traced_enqueue_each(tasks.deliver_webhook, ids)


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
    """Write one event per (phone, data) item and its deliveries; enqueue them on commit."""
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
    ids = [delivery.pk for delivery in deliveries]
    transaction.on_commit(lambda: enqueue_deliveries(ids))
    return deliveries
