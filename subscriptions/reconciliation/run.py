"""One reconciliation run, in a bulk worker: claim it, go through its batches (skipping the
finished ones), read or re-send, record, deliver what is owed, finish."""

import logging
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from itertools import count

from django.conf import settings
from django.db import connections, transaction
from django.db.models import F, Q
from django.utils import timezone

from subscriptions.delivery import grouped, worker
from subscriptions.models import Reconciliation, RunStatus
from subscriptions.providers.base import ProviderError, RetryableError, redacted
from subscriptions.providers.registry import adapter_for
from subscriptions.reconciliation.compare import compare, held_at_provider, owed_opt_outs
from subscriptions.reconciliation.record import lease_end, record_batch
from subscriptions.reconciliation.scope import (
    codes_of,
    contacts_to_check,
    portal_states,
    programs_of,
)

logger = logging.getLogger("subscriptions.reconciliation")

BATCH_SIZE = 500  # numbers per SFMC lookup (docs/api.md), and per recorded batch
BACKOFF_CAP_SECONDS = 60.0


def claim_run(run_id, now) -> Reconciliation | None:
    """Take a queued run, or a running one whose worker's lease ran out (it died)."""
    with transaction.atomic():
        run = (
            Reconciliation.objects.select_for_update(of=("self",))
            .select_related("provider", "short_code")
            .filter(
                Q(status=RunStatus.QUEUED)
                | Q(status=RunStatus.RUNNING)
                & (Q(locked_until__isnull=True) | Q(locked_until__lte=now)),
                pk=run_id,
            )
            .first()
        )
        if run is None:
            return None
        run.status = RunStatus.RUNNING
        run.started_at = run.started_at or now
        run.locked_until = lease_end(now)
        run.save(update_fields=["status", "started_at", "locked_until"])
        return run


def run(run_id: int, *, now=None, sleep=time.sleep, clock=time.monotonic, on_batch=None):
    """Run (or resume) a reconciliation. `sleep` and `clock` pace and wait (tests inject
    them); `on_batch(run)` is called after each recorded batch."""
    reconciliation = claim_run(run_id, now or timezone.now())
    if reconciliation is None:
        return None
    try:
        Runner(reconciliation, sleep=sleep, clock=clock, on_batch=on_batch).go()
    except ProviderError as error:
        _end(reconciliation, RunStatus.FAILED, str(redacted(error, reconciliation.provider)))
    except Exception as error:
        _end(reconciliation, RunStatus.FAILED, f"{type(error).__name__}: {error}")
        raise
    else:
        _end(reconciliation, RunStatus.DONE, "")
    reconciliation.refresh_from_db()
    return reconciliation


def _end(reconciliation, status, failure):
    Reconciliation.objects.filter(pk=reconciliation.pk).update(
        status=status, failure=failure, finished_at=timezone.now(), locked_until=None
    )


class Runner:
    def __init__(self, reconciliation, *, sleep, clock, on_batch):
        self.run = reconciliation
        self.account = reconciliation.provider
        self.sleep, self.clock, self.on_batch = sleep, clock, on_batch
        self.codes = codes_of(self.account, reconciliation.short_code)
        self.programs = programs_of(self.account, self.codes)
        self.adapter = adapter_for(self.account)
        self._last_send = None

    def batches(self):
        done = list(self.run.batches.values_list("first_contact_id", "last_contact_id"))
        contacts = contacts_to_check(self.account, self.codes, self.programs, done)
        return [contacts[i : i + BATCH_SIZE] for i in range(0, len(contacts), BATCH_SIZE)]

    def go(self):
        if not self.account.is_active:
            raise ProviderError(f"provider account {self.account.name!r} is inactive")
        if not self.programs:
            return
        batches = self.batches()
        if self.adapter.capabilities.lookup:
            self.read_all(batches)
        else:
            for batch in batches:
                self.resend(batch)

    # Providers with a read API (SFMC) ------------------------------------------------------

    def read_all(self, batches):
        """Each batch read, compared and recorded by one of PORTAL_RECONCILE_CONCURRENCY
        threads (each with its own HTTP session and database connection); the first error
        cancels the batches not started yet and fails the run (it may be started again)."""
        concurrency = max(1, int(settings.PORTAL_RECONCILE_CONCURRENCY))
        if batches:
            self.adapter.token()  # one token for every call of the run (cached)
        if concurrency == 1:
            for batch in batches:
                self.compared(batch, self.read(batch))
            return
        with ThreadPoolExecutor(concurrency, thread_name_prefix="reconcile") as pool:
            futures = [pool.submit(self.batch_in_thread, batch) for batch in batches]
            try:
                for future in futures:
                    future.result()
            except BaseException:
                pool.shutdown(wait=True, cancel_futures=True)
                raise

    def batch_in_thread(self, batch):
        try:
            self.compared(batch, self.read(batch, adapter=adapter_for(self.account)))
        finally:
            connections.close_all()  # this thread's own connections

    def read(self, batch, adapter=None):
        """The lookup for one batch, waiting out 429s (Retry-After) and 5xx."""
        adapter = adapter or self.adapter
        numbers = [phone.lstrip("+") for _pk, phone in batch]
        for attempt in count(1):
            try:
                return adapter.lookup(numbers)
            except RetryableError as error:
                if attempt > settings.PORTAL_RECONCILE_MAX_RETRIES:
                    raise
                wait = error.retry_after
                if wait is None:
                    wait = min(BACKOFF_CAP_SECONDS, 2.0 ** (attempt - 1))
                logger.info("reconciliation #%s: %s; again in %.1f s", self.run.pk, error, wait)
                self.sleep(wait)
        return None  # unreachable

    def compared(self, batch, rows):
        portal = portal_states([pk for pk, _phone in batch], self.programs)
        findings = compare(batch, self.programs, portal, held_at_provider(rows))
        sync_ids = record_batch(self.run, batch, findings, learned=True, calls=1)
        if sync_ids:
            grouped.deliver_group(sync_ids)  # STOPs share queueMO calls
        self._batch_done()

    # Providers without one (WhatCounts, SkyCore) -------------------------------------------

    def resend(self, batch):
        portal = portal_states([pk for pk, _phone in batch], self.programs)
        per_code = not self.adapter.capabilities.keyword_opt_out
        findings = owed_opt_outs(batch, self.programs, portal, per_code=per_code)
        sync_ids = record_batch(self.run, batch, findings, learned=False)
        for pk in sync_ids:
            self.pace()
            worker.deliver_sync(pk)
        self._count_calls(len(sync_ids))
        self._batch_done()

    def pace(self):
        """At most PORTAL_RECONCILE_RESEND_PER_SECOND deliveries a second."""
        interval = 1.0 / float(settings.PORTAL_RECONCILE_RESEND_PER_SECOND)
        now = self.clock()
        if self._last_send is not None and now - self._last_send < interval:
            self.sleep(interval - (now - self._last_send))
            now = self.clock()
        self._last_send = now

    def _count_calls(self, calls):
        if calls:
            Reconciliation.objects.filter(pk=self.run.pk).update(
                provider_calls=F("provider_calls") + calls
            )

    def _batch_done(self):
        if self.on_batch is not None:
            self.on_batch(self.run)


def stale_runs(now) -> list[int]:
    """Runs whose worker died (running, lease run out) or whose task was lost (queued long
    ago): the sweeper queues them again and they resume after their finished batches."""
    lost = now - timedelta(seconds=settings.PORTAL_DELIVERY_REDRIVE_SECONDS)
    return list(
        Reconciliation.objects.filter(
            Q(status=RunStatus.RUNNING, locked_until__lte=now)
            | Q(status=RunStatus.QUEUED, created_at__lte=lost)
        ).values_list("pk", flat=True)[:100]
    )
