"""Delivery, in the worker (bulk queue): claim a webhook delivery, sign it, post it, record
the answer; then go on with the next delivery of the same lane.

A lane is one phone number at one endpoint: a delivery is sent only when no earlier
delivery of its lane is still pending, so a receiver sees a number's events in the order
they happened. At least once: a row is pending until a 2xx answer; a worker that dies
leaves it pending with a lease that runs out, and the sweeper re-drives it.
"""

import logging
import random
from datetime import timedelta

from django.conf import settings
from django.core.mail import mail_admins
from django.db import transaction
from django.utils import timezone

from subscriptions.common import memo
from subscriptions.delivery.policy import enqueue
from subscriptions.models import DeliveryStatus, WebhookDelivery, WebhookEndpoint
from subscriptions.webhooks import sender, signing, ssrf, tasks
from subscriptions.webhooks.outbox import enqueue_deliveries

logger = logging.getLogger("subscriptions.webhooks")
LANE_RUN = 100  # deliveries of one lane sent in a row before the rest go back to the queue


def lease():
    return timedelta(seconds=settings.PORTAL_WEBHOOKS_LEASE_SECONDS)


def max_attempts():
    return settings.PORTAL_WEBHOOKS_MAX_ATTEMPTS


def backoff_seconds(attempts: int, retry_after: float | None = None) -> float:
    """Exponential backoff with jitter after `attempts` failed attempts, capped; a receiver's
    Retry-After is honoured up to the cap."""
    base = settings.PORTAL_WEBHOOKS_BACKOFF_SECONDS
    cap = settings.PORTAL_WEBHOOKS_BACKOFF_MAX_SECONDS
    ceiling = min(cap, base * 2 ** max(0, attempts - 1))
    delay = ceiling / 2 + random.uniform(0, ceiling / 2)  # jitter, not cryptography
    return min(cap, max(delay, retry_after or 0))


def earlier_pending(row):
    return WebhookDelivery.objects.filter(
        endpoint_id=row.endpoint_id, phone=row.phone, status=DeliveryStatus.PENDING, id__lt=row.id
    )


def deliver(delivery_id: int, now=None) -> None:
    """Deliver one row, then the following rows of its lane while they are due."""
    current = delivery_id
    for _ in range(LANE_RUN):
        row = deliver_one(current, now)
        if row is None or row.status == DeliveryStatus.PENDING:
            return
        current = next_in_lane(row)
        if current is None:
            return
    enqueue_deliveries([current])


def next_in_lane(row):
    if not row.phone:
        return None
    return (
        WebhookDelivery.objects.filter(
            endpoint_id=row.endpoint_id,
            phone=row.phone,
            status=DeliveryStatus.PENDING,
            id__gt=row.id,
        )
        .order_by("id")
        .values_list("pk", flat=True)
        .first()
    )


def claim(delivery_id, now):
    """Lease the row for one attempt; None when it is not ours to send now (done, leased,
    not due, its endpoint disabled, or an earlier row of its lane still pending: that
    row's worker goes on with this one when it is done)."""
    with transaction.atomic():
        row = (
            WebhookDelivery.objects.select_for_update(of=("self",))
            .select_related("endpoint", "event")
            .filter(pk=delivery_id)
            .first()
        )
        if row is None or row.status != DeliveryStatus.PENDING:
            return None
        if (row.locked_until and row.locked_until > now) or row.next_attempt_at > now:
            return None
        if not row.endpoint.is_active:
            return None
        if row.phone and earlier_pending(row).exists():
            return None
        if row.attempts >= max_attempts():
            row.status, row.locked_until = DeliveryStatus.FAILED, None
            row.last_error = f"gave up after {row.attempts} attempts (worker lost)"
            row.save(update_fields=["status", "locked_until", "last_error", "updated_at"])
            return row
        row.attempts += 1
        row.locked_until = now + lease()
        row.save(update_fields=["attempts", "locked_until", "updated_at"])
        return row


def attempt(row) -> sender.Answer:
    """Check the address again (DNS may have changed since the endpoint was saved), sign,
    post. The signature's timestamp is the wall clock: receivers compare it with theirs."""
    try:
        target = ssrf.check(row.endpoint.url)
    except ssrf.UnsafeURL as exc:
        return sender.Answer(None, error=f"refused by the SSRF guard: {exc}")
    secrets = row.endpoint.signing_secrets()
    if not secrets:
        return sender.Answer(None, error="the endpoint has no secret")
    body = signing.body(row.event.payload)
    headers = signing.headers(row.event.msg_id, secrets, body, timezone.now())
    return sender.post(target, body, headers, settings.PORTAL_WEBHOOKS_TIMEOUT_SECONDS)


def deliver_one(delivery_id, now=None):
    now = now or timezone.now()
    row = claim(delivery_id, now)
    if row is None or row.status != DeliveryStatus.PENDING:
        return row
    answer = attempt(row)
    finish(row, answer, now)
    return row


def finish(row, answer, now):
    fields = {"locked_until": None, "last_status_code": answer.status_code}
    if answer.ok:
        fields.update(status=DeliveryStatus.DELIVERED, delivered_at=now, last_error="")
    elif row.attempts >= max_attempts():
        fields.update(
            status=DeliveryStatus.FAILED,
            last_error=f"gave up after {row.attempts} attempts: {answer.error}"[:2000],
        )
    else:
        delay = backoff_seconds(row.attempts, answer.retry_after)
        fields.update(next_attempt_at=now + timedelta(seconds=delay), last_error=answer.error)
    updated = WebhookDelivery.objects.filter(
        pk=row.pk, status=DeliveryStatus.PENDING, attempts=row.attempts
    ).update(updated_at=timezone.now(), **fields)
    for name, value in fields.items():
        setattr(row, name, value)
    if not updated:
        logger.warning("webhook delivery #%s was taken over while in flight", row.pk)
        row.status = DeliveryStatus.PENDING  # not ours to follow up
        return
    endpoint_health(row.endpoint, answer.ok, now)
    if row.status == DeliveryStatus.PENDING:
        enqueue(tasks.deliver_webhook, row.pk, run_after=row.next_attempt_at)
    elif row.status == DeliveryStatus.FAILED:
        logger.warning("webhook delivery #%s failed: %s", row.pk, row.last_error)


def endpoint_health(endpoint, ok, now):
    """Remember since when an endpoint fails; one failing for a day is disabled and staff
    are told (log and mail to ADMINS). Its undelivered rows wait for it to be enabled."""
    endpoints = WebhookEndpoint.objects.filter(pk=endpoint.pk)
    if ok:
        if endpoint.failing_since is not None:  # as read by the claim: no write per success
            endpoints.update(failing_since=None)
        return
    endpoints.filter(failing_since__isnull=True).update(failing_since=now)
    window = timedelta(hours=settings.PORTAL_WEBHOOKS_DISABLE_AFTER_HOURS)
    reason = f"failing since more than {settings.PORTAL_WEBHOOKS_DISABLE_AFTER_HOURS:g} hours"
    disabled = endpoints.filter(is_active=True, failing_since__lte=now - window).update(
        is_active=False, disabled_at=now, disabled_reason=reason
    )
    if disabled:
        memo.invalidate(memo.WEBHOOKS)  # an update() sends no signal
        endpoint.is_active = False
        message = (
            f"The webhook endpoint #{endpoint.pk} ({endpoint.url}) was disabled: {reason}. "
            "Its undelivered events wait; enable it again in the admin to resume."
        )
        logger.error(message)
        try:
            mail_admins("Webhook endpoint disabled", message)
        except Exception:  # mail is a courtesy: the log line and the admin already tell
            logger.exception("could not mail the admins about webhook endpoint #%s", endpoint.pk)
