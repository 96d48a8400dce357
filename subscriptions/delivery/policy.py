"""Retry policy of the outbox (provider syncs and outbound texts): leases, backoff with
jitter, attempt limits, and how a failure is described to staff."""

import logging
import random
from datetime import datetime, timedelta

from django.conf import settings
from django.tasks import Task

from subscriptions.common.queueing import traced_enqueue
from subscriptions.providers.base import ProviderError

logger = logging.getLogger("subscriptions.delivery")


def lease() -> timedelta:
    return timedelta(seconds=settings.PORTAL_DELIVERY_LEASE_SECONDS)


def redrive_after() -> timedelta:
    """How long a due row may wait for its queued task before it counts as lost. Longer
    than the worst expected queue backlog: a re-drive of a row whose task is merely late
    costs a duplicate (harmless, no-op) task."""
    return timedelta(seconds=settings.PORTAL_DELIVERY_REDRIVE_SECONDS)


def max_attempts() -> int:
    return settings.PORTAL_DELIVERY_MAX_ATTEMPTS


def backoff_seconds(attempts: int, retry_after: float | None = None) -> float:
    """Exponential backoff with jitter after `attempts` failed attempts, never shorter
    than the provider's Retry-After. The jitter keeps a recovered provider from being hit
    by every waiting row at the same second."""
    base = settings.PORTAL_DELIVERY_BACKOFF_SECONDS
    cap = settings.PORTAL_DELIVERY_BACKOFF_MAX_SECONDS
    ceiling = min(cap, base * 2 ** max(0, attempts - 1))
    delay = ceiling / 2 + random.uniform(0, ceiling / 2)  # jitter, not cryptography
    return max(delay, retry_after or 0)


def next_attempt_at(attempts: int, error: ProviderError, now: datetime) -> datetime | None:
    """When to try again after a failed attempt, or None when it must stop."""
    if not error.retryable or attempts >= max_attempts():
        return None
    return now + timedelta(seconds=backoff_seconds(attempts, error.retry_after))


def failure_text(attempts: int, error: ProviderError) -> str:
    if error.retryable:
        return f"gave up after {attempts} attempts: {error}"
    return f"permanent error: {error}"


def enqueue(task: Task, pk: int, run_after: datetime | None = None) -> None:
    """Enqueue `task(pk)`, deferred when the backend can; otherwise a deferred attempt is
    left to the sweeper (the row's next_attempt_at says when)."""
    if run_after is None:
        traced_enqueue(task, pk)
    elif task.get_backend().supports_defer:
        traced_enqueue(task.using(run_after=run_after), pk)
