"""Delivery, in the worker (bulk queue): a drain sends an endpoint's due deliveries, batch
after batch, until none is due.

Each batch: claim up to PORTAL_WEBHOOKS_BATCH lane heads in one transaction (`claims`),
check the endpoint's address once (DNS may have changed since it was saved), sign and post
the rows with up to PORTAL_WEBHOOKS_THREADS requests in flight over kept-alive connections,
then record every answer in one transaction. A number's events go in order, since a batch
holds one row per lane and the next row of a lane is claimed only after its head is
recorded; different numbers go in parallel.

At least once: a row is pending until a 2xx answer; a worker that dies leaves its rows
leased, the lease runs out, and the next drain (or the sweeper) sends them again with the
same webhook-id. A batch without one success stops the drain: the endpoint is failing, its
retries are scheduled with backoff (a drain is deferred to their time), and hammering it
with the rest of its rows would not help.
"""

import logging
import threading
import time
from concurrent.futures import ThreadPoolExecutor

from django.conf import settings
from django.utils import timezone

from subscriptions.models import WebhookDelivery
from subscriptions.webhooks import claims, health, sender, signing, ssrf
from subscriptions.webhooks.claims import Batch, backoff_seconds
from subscriptions.webhooks.outbox import enqueue_drains, schedule_drain

logger = logging.getLogger("subscriptions.webhooks")
__all__ = ["backoff_seconds", "deliver", "drain"]

_executor: ThreadPoolExecutor | None = None
_executor_lock = threading.Lock()


def executor() -> ThreadPoolExecutor:
    """The process's sender threads (shared by the drains a process runs at once)."""
    global _executor
    with _executor_lock:
        if _executor is None:
            _executor = ThreadPoolExecutor(
                max_workers=max(1, settings.PORTAL_WEBHOOKS_THREADS),
                thread_name_prefix="webhooks",
            )
        return _executor


def deliver(delivery_id: int, now=None) -> None:
    """Drain the endpoint of one delivery (the first release's task, and tests)."""
    endpoint_id = (
        WebhookDelivery.objects.filter(pk=delivery_id).values_list("endpoint_id", flat=True).first()
    )
    if endpoint_id is not None:
        drain(endpoint_id, now)


def drain(endpoint_id: int, now=None) -> None:
    """Send the endpoint's due deliveries until none is due, the endpoint fails a whole
    batch, or PORTAL_WEBHOOKS_DRAIN_SECONDS are spent (then a drain is queued to go on, so
    other bulk work gets the worker in between). `now` is injected by tests."""
    started = time.monotonic()
    while True:
        batch = claims.claim_batch(endpoint_id, now or timezone.now(), batch_size())
        if batch is None:
            return
        if batch.rows and not send_and_record(batch, now):
            return
        if time.monotonic() - started > settings.PORTAL_WEBHOOKS_DRAIN_SECONDS:
            enqueue_drains({endpoint_id: batch_size()})
            return


def batch_size() -> int:
    return max(1, settings.PORTAL_WEBHOOKS_BATCH)


def send_and_record(batch: Batch, now=None) -> bool:
    """One batch's attempts and their record; False when the drain should stop."""
    answers = send(batch)
    at = now or timezone.now()
    outcome = claims.record(batch, answers, at)
    attempted = any(answer is not None for answer in answers)
    if attempted:
        health.endpoint_health(batch.endpoint, outcome.any_ok, at)
    if outcome.retry_at is not None:
        schedule_drain(batch.endpoint.pk, outcome.retry_at)
    if not attempted:  # the lease ran out before a row could start: start afresh
        enqueue_drains({batch.endpoint.pk: 1})
        return False
    # Failing now (retries scheduled, no success) or disabled: stop. Rows given up for good
    # let their lanes move on, so a batch of only those goes on.
    failing = not outcome.any_ok and outcome.retry_at is not None
    return batch.endpoint.is_active and not failing


def send(batch: Batch) -> list[sender.Answer | None]:
    """Every row's answer, in the batch's order (None: not started, its lease would not
    have covered it). The address is checked once for the batch, at delivery time."""
    try:
        target = ssrf.check(batch.endpoint.url)
    except ssrf.UnsafeURL as exc:
        return [sender.Answer(None, error=f"refused by the SSRF guard: {exc}")] * len(batch.rows)
    secrets = batch.endpoint.signing_secrets()
    if not secrets:
        return [sender.Answer(None, error="the endpoint has no secret")] * len(batch.rows)
    timeout = settings.PORTAL_WEBHOOKS_TIMEOUT_SECONDS

    def attempt(row: WebhookDelivery) -> sender.Answer | None:
        if time.monotonic() > batch.start_by:
            return None
        try:
            body = signing.body(row.event.payload)
            # The signature's timestamp is the wall clock: receivers compare it with theirs.
            headers = signing.headers(row.event.msg_id, secrets, body, timezone.now())
            return sender.post(target, body, headers, timeout)
        except Exception as exc:  # one bad row must not sink the batch
            logger.exception("webhook delivery #%s could not be sent", row.pk)
            return sender.Answer(None, error=f"{type(exc).__name__}: {exc}"[:500])

    if len(batch.rows) == 1:
        return [attempt(batch.rows[0])]
    return list(executor().map(attempt, batch.rows))
