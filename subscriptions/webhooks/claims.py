"""The database side of a drain: claim a batch of an endpoint's due deliveries, then record
what the receiver answered, each in one transaction.

A lane is one phone number at one endpoint. Only a lane's head (its oldest pending row) can
be claimed, so a batch holds at most one row of a lane and a number's events go out in
order; different lanes are independent. A claimed row carries a lease (`locked_until`): no
other drain takes it, nor the rows behind it in its lane, until it is recorded or the lease
runs out (a killed worker), after which any drain or the sweeper takes it again.
"""

import logging
import random
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Exists, F, OuterRef, Q
from django.utils import timezone

from subscriptions.models import DeliveryStatus, WebhookDelivery, WebhookEndpoint
from subscriptions.webhooks.sender import Answer

logger = logging.getLogger("subscriptions.webhooks")


def lease_seconds() -> float:
    return settings.PORTAL_WEBHOOKS_LEASE_SECONDS


def max_attempts() -> int:
    return settings.PORTAL_WEBHOOKS_MAX_ATTEMPTS


def backoff_seconds(attempts: int, retry_after: float | None = None) -> float:
    """Exponential backoff with jitter after `attempts` failed attempts, capped; a receiver's
    Retry-After is honoured up to the cap."""
    base = settings.PORTAL_WEBHOOKS_BACKOFF_SECONDS
    cap = settings.PORTAL_WEBHOOKS_BACKOFF_MAX_SECONDS
    ceiling = min(cap, base * 2 ** max(0, attempts - 1))
    delay = ceiling / 2 + random.uniform(0, ceiling / 2)  # jitter, not cryptography
    return min(cap, max(delay, retry_after or 0))


@dataclass
class Batch:
    """Rows leased for one attempt each, and until when (wall clock for the database, the
    monotonic clock for the sender, which must not start a row its lease no longer covers)."""

    endpoint: WebhookEndpoint
    rows: list[WebhookDelivery]
    start_by: float = field(default=0.0)  # time.monotonic() after which no row is started


@dataclass
class Outcome:
    delivered: int = 0
    any_ok: bool = False
    retry_at: datetime | None = None  # the earliest retry it scheduled
    gave_up: int = 0


def due_heads(endpoint_id: int, now: datetime):
    """Pending rows of the endpoint that are due, not leased (or their lease ran out), and
    first in their lane."""
    earlier = WebhookDelivery.objects.filter(
        endpoint_id=OuterRef("endpoint_id"),
        phone=OuterRef("phone"),
        status=DeliveryStatus.PENDING,
        id__lt=OuterRef("id"),
    )
    return WebhookDelivery.objects.filter(
        Q(locked_until__isnull=True) | Q(locked_until__lte=now),
        Q(phone="") | ~Exists(earlier),
        endpoint_id=endpoint_id,
        status=DeliveryStatus.PENDING,
        next_attempt_at__lte=now,
    )


def claim_batch(endpoint_id: int, now: datetime, limit: int) -> Batch | None:
    """Lease up to `limit` lane heads of an active endpoint, oldest first; None when there
    is nothing to send now. Rows another drain is claiming at this moment are skipped, not
    waited for. A row whose attempts ran out under killed workers is failed here."""
    with transaction.atomic(savepoint=False):  # its own, or part of a drain step's
        rows = list(
            due_heads(endpoint_id, now)
            .filter(endpoint__is_active=True)
            .select_for_update(skip_locked=True, of=("self",))
            .select_related("event", "endpoint")
            .order_by("id")[:limit]
        )
        if not rows:
            return None
        endpoint = rows[0].endpoint  # one object for the batch (the health check updates it)
        exhausted = [row for row in rows if row.attempts >= max_attempts()]
        if exhausted:
            give_up_lost(exhausted)
        rows = [row for row in rows if row.attempts < max_attempts()]
        lease = lease_seconds()
        WebhookDelivery.objects.filter(pk__in=[row.pk for row in rows]).update(
            attempts=F("attempts") + 1,
            locked_until=now + timedelta(seconds=lease),
            updated_at=timezone.now(),
        )
    for row in rows:
        row.attempts += 1
        row.endpoint = endpoint
    # Half the lease (at most one timeout) is kept for the answer of the last row started.
    margin = min(settings.PORTAL_WEBHOOKS_TIMEOUT_SECONDS, lease / 2)
    return Batch(endpoint, rows, start_by=time.monotonic() + lease - margin)


def give_up_lost(rows: list[WebhookDelivery]) -> None:
    """Rows whose every attempt was taken by a worker that never came back (few, rare)."""
    for row in rows:
        row.status, row.locked_until = DeliveryStatus.FAILED, None
        row.last_error = f"gave up after {row.attempts} attempts (worker lost)"
        row.save(update_fields=["status", "locked_until", "last_error", "updated_at"])
        logger.warning("webhook delivery #%s failed: %s", row.pk, row.last_error)


def still_ours(ids: list[int], attempts: int):
    """The rows as this attempt leased them: a drain that took a row over after its lease ran
    out counted another attempt, and its record wins."""
    return WebhookDelivery.objects.filter(
        pk__in=ids, status=DeliveryStatus.PENDING, attempts=attempts
    )


def record(batch: Batch, answers: list[Answer | None], now: datetime) -> Outcome:
    """Write every row's answer in one transaction: delivered rows in one UPDATE per
    (attempts, status code), failed rows with their backoff, and rows never started (their
    lease would not have covered them) released with their attempt given back."""
    outcome = Outcome()
    delivered: dict[tuple[int, int], list[int]] = {}
    with transaction.atomic(savepoint=False):  # its own, or part of a drain step's
        for row, answer in zip(batch.rows, answers, strict=True):
            if answer is None:
                still_ours([row.pk], row.attempts).update(
                    attempts=F("attempts") - 1, locked_until=None
                )
            elif answer.ok:
                outcome.any_ok = True
                delivered.setdefault((row.attempts, answer.status_code), []).append(row.pk)
            else:
                retry_at = record_failure(row, answer, now)
                if retry_at is None:
                    outcome.gave_up += 1
                elif outcome.retry_at is None or retry_at < outcome.retry_at:
                    outcome.retry_at = retry_at
        for (attempts, status_code), ids in delivered.items():
            updated = still_ours(ids, attempts).update(
                status=DeliveryStatus.DELIVERED,
                delivered_at=now,
                last_error="",
                last_status_code=status_code,
                locked_until=None,
                updated_at=timezone.now(),
            )
            if updated < len(ids):
                taken = len(ids) - updated
                logger.warning("%s webhook deliveries were taken over in flight", taken)
            outcome.delivered += updated
    return outcome


def record_failure(row: WebhookDelivery, answer: Answer, now: datetime) -> datetime | None:
    """Back off, or give up after the last attempt. Returns the retry's time (None: no retry
    of this row by this drain, given up or taken over)."""
    fields = {"locked_until": None, "last_status_code": answer.status_code}
    if row.attempts >= max_attempts():
        fields.update(
            status=DeliveryStatus.FAILED,
            last_error=f"gave up after {row.attempts} attempts: {answer.error}"[:2000],
        )
    else:
        delay = backoff_seconds(row.attempts, answer.retry_after)
        fields.update(next_attempt_at=now + timedelta(seconds=delay), last_error=answer.error)
    updated = still_ours([row.pk], row.attempts).update(updated_at=timezone.now(), **fields)
    if not updated:
        logger.warning("webhook delivery #%s was taken over while in flight", row.pk)
        return None
    if "status" in fields:
        logger.warning("webhook delivery #%s failed: %s", row.pk, fields["last_error"])
        return None
    return fields["next_attempt_at"]
