"""Staff operations on webhook endpoints and deliveries (API and admin call these)."""

from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from subscriptions.models import DeliveryStatus, WebhookDelivery, WebhookEndpoint
from subscriptions.webhooks.outbox import enqueue_drains


def create_endpoint(**fields) -> tuple[WebhookEndpoint, str]:
    """A validated endpoint with a fresh secret; the secret is returned to be shown once."""
    endpoint = WebhookEndpoint(**fields)
    secret = endpoint.set_new_secret()
    endpoint.full_clean()
    endpoint.save()
    return endpoint, secret


def update_endpoint(endpoint: WebhookEndpoint, **fields) -> WebhookEndpoint:
    was_active = WebhookEndpoint.objects.filter(pk=endpoint.pk, is_active=True).exists()
    for name, value in fields.items():
        setattr(endpoint, name, value)
    endpoint.full_clean()
    with transaction.atomic():
        endpoint.save()
        if endpoint.is_active and not was_active:
            resume(endpoint)
    return endpoint


def resume(endpoint: WebhookEndpoint) -> None:
    """An endpoint enabled again: forget its failures and send what waited, in order."""
    now = timezone.now()
    WebhookEndpoint.objects.filter(pk=endpoint.pk).update(
        failing_since=None, disabled_at=None, disabled_reason=""
    )
    endpoint.failing_since = endpoint.disabled_at = None
    endpoint.disabled_reason = ""
    waiting = WebhookDelivery.objects.filter(endpoint=endpoint, status=DeliveryStatus.PENDING)
    waiting.update(next_attempt_at=now, locked_until=None)
    count = waiting.count()
    if count:
        transaction.on_commit(lambda: enqueue_drains({endpoint.pk: count}))


def rotate_secret(endpoint: WebhookEndpoint, grace_hours: float | None = None) -> str:
    """A new secret; during the grace period deliveries carry both signatures."""
    if grace_hours is None:
        grace_hours = settings.PORTAL_WEBHOOKS_ROTATION_GRACE_HOURS
    secret = endpoint.rotate_secret(timedelta(hours=grace_hours))
    endpoint.save(update_fields=["secret_encrypted", "updated_at"])
    return secret


def redeliver(delivery: WebhookDelivery) -> WebhookDelivery:
    """Send a delivery again, with the same webhook-id (receivers deduplicate on it), as
    soon as the earlier deliveries of its number are done."""
    with transaction.atomic():
        WebhookDelivery.objects.filter(pk=delivery.pk).update(
            status=DeliveryStatus.PENDING,
            attempts=0,
            next_attempt_at=timezone.now(),
            locked_until=None,
            delivered_at=None,
            updated_at=timezone.now(),
        )
        transaction.on_commit(lambda: enqueue_drains({delivery.endpoint_id: 1}))
    delivery.refresh_from_db()
    return delivery
