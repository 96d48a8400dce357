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
from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import datetime

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from subscriptions.models import WebhookDelivery
from subscriptions.webhooks import claims, health, sender, signing, ssrf
from subscriptions.webhooks.claims import Batch, backoff_seconds
from subscriptions.webhooks.outbox import enqueue_drains, schedule_drain

logger = logging.getLogger("subscriptions.webhooks")
__all__ = ["backoff_seconds", "deliver", "drain"]

PIPELINE_DEPTH = 2  # batches of one drain in flight at once: one sent while one is claimed
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
    """Send the endpoint's due deliveries until none is due, the endpoint fails, or
    PORTAL_WEBHOOKS_DRAIN_SECONDS are spent (then a drain is queued to go on, so other bulk
    work gets the worker in between). `now` is injected by tests.

    Pipelined: while one batch's requests are in flight the next one is claimed (its lanes
    differ: the rows behind a leased head are not claimable), so the sender threads are
    not idle while the database works; a batch's record and the next claim share one
    transaction (one commit per batch). The drain ends on a claim that finds nothing with
    nothing in flight, made after every record: a row committed or unblocked before then
    is sent by this drain, one committed after it by the drain its commit enqueued. Drains
    it asks for (to go on, or for its retries) are enqueued only once it recorded all."""
    state = Drain(endpoint_id, now)
    started = time.monotonic()
    state.run()
    if state.sent:  # one line per drain, not per delivery: where its time went
        logger.info(
            "webhook drain of endpoint #%s: %s rows in %s batches, %.2f s "
            "(database %.2f s, waiting for answers %.2f s)",
            endpoint_id,
            state.sent,
            state.batches,
            time.monotonic() - started,
            state.db_seconds,
            state.wait_seconds,
        )
    if state.again:
        enqueue_drains({endpoint_id: batch_size()})
    if state.retry_at is not None:
        schedule_drain(endpoint_id, state.retry_at)


def batch_size() -> int:
    return max(1, settings.PORTAL_WEBHOOKS_BATCH)


class Drain:
    """One drain's state: its batches in flight, whether to claim more (`go_on`), whether a
    new drain must go on after it (`again`), and when its earliest retry falls due."""

    def __init__(self, endpoint_id: int, now=None):
        self.endpoint_id, self.now = endpoint_id, now
        self.deadline = time.monotonic() + settings.PORTAL_WEBHOOKS_DRAIN_SECONDS
        self.in_flight: deque[tuple[Batch, list[Future]]] = deque()
        self.go_on, self.again, self.exhausted = True, False, False
        self.retry_at: datetime | None = None
        self.sent = self.batches = 0
        self.db_seconds = self.wait_seconds = 0.0

    def run(self) -> None:
        while True:
            while self.go_on and not self.exhausted and len(self.in_flight) < PIPELINE_DEPTH:
                self.timed_claim()
            if not self.in_flight:
                return
            batch, futures = self.in_flight.popleft()
            waited = time.monotonic()
            answers = [future.result() for future in futures]
            self.wait_seconds += time.monotonic() - waited
            self.finish(batch, answers)

    def timed_claim(self) -> None:
        started = time.monotonic()
        batch = self.claim()
        self.db_seconds += time.monotonic() - started
        self.send(batch)

    def claim(self) -> Batch | None:
        batch = claims.claim_batch(self.endpoint_id, self.now or timezone.now(), batch_size())
        self.exhausted = batch is None
        return batch

    def send(self, batch: Batch | None) -> None:
        """Start a claimed batch (after its transaction: the address check may wait on DNS,
        and the sender threads it wakes would slow the commit)."""
        if batch is not None and batch.rows:
            self.in_flight.append((batch, start(batch)))
            self.sent += len(batch.rows)
            self.batches += 1

    def finish(self, batch: Batch, answers: list[sender.Answer | None]) -> None:
        """Record a batch (and, when it went well, claim the next one in the same
        transaction), then the endpoint's health; decide whether to go on."""
        at = self.now or timezone.now()
        if self.go_on and time.monotonic() > self.deadline:
            self.go_on, self.again = False, True
        started, following = time.monotonic(), None
        with transaction.atomic():
            outcome = claims.record(batch, answers, at)
            self.exhausted = False  # a record may have unblocked lanes
            if outcome.any_ok and self.go_on:
                following = self.claim()
        self.db_seconds += time.monotonic() - started
        self.send(following)
        if outcome.retry_at is not None:
            self.retry_at = min(self.retry_at or outcome.retry_at, outcome.retry_at)
        if all(answer is None for answer in answers):  # its lease ran out before any started
            self.go_on, self.again = False, True
            return
        health.endpoint_health(batch.endpoint, outcome.any_ok, at)
        # Failing (retries scheduled, no success) or disabled: stop claiming. Rows given up
        # for good let their lanes move on, so a batch of only those goes on.
        failing = not outcome.any_ok and outcome.retry_at is not None
        self.go_on = self.go_on and batch.endpoint.is_active and not failing


def start(batch: Batch) -> list[Future]:
    """Every row's attempt, started on the sender threads; each future's result is its
    answer (None: not started, its lease would no longer have covered it). The address is
    checked once for the batch, at delivery time."""
    try:
        target = ssrf.check(batch.endpoint.url)
        secrets = batch.endpoint.signing_secrets()
    except ssrf.UnsafeURL as exc:
        return answered(batch, f"refused by the SSRF guard: {exc}")
    if not secrets:
        return answered(batch, "the endpoint has no secret")
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

    pool = executor()
    return [pool.submit(attempt, row) for row in batch.rows]


def answered(batch: Batch, error: str) -> list[Future]:
    """The same failed answer for every row, without a request."""
    futures = []
    for _ in batch.rows:
        future = Future()
        future.set_result(sender.Answer(None, error=error))
        futures.append(future)
    return futures
