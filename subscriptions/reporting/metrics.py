"""/metrics in Prometheus text format, for the operators' scraper.

Counters and latencies live in prometheus_client; with several gunicorn workers set
PROMETHEUS_MULTIPROC_DIR (an empty folder per machine) so every process's numbers are
summed. Backlog and failure gauges are read from the database at scrape time, so every
machine reports the same, complete picture of the outbox.
"""

import functools
import hmac
import logging
import os
import time

from django.conf import settings
from django.db.models import Count, QuerySet
from django.dispatch import receiver
from django.http import HttpResponse, HttpResponseForbidden
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    disable_created_metrics,
    generate_latest,
    multiprocess,
)
from prometheus_client.core import GaugeMetricFamily

from subscriptions.consent.signals import (
    revocation_decided,
    revocation_in_step,
    revocation_received,
    subscription_changed,
)
from subscriptions.models import Drift, ProviderSync, RevocationDecisionKind, SyncStatus

disable_created_metrics()
# This process's own metrics (in multiprocess mode their values also go to files that the
# scrape sums over every process).
PROCESS_REGISTRY = CollectorRegistry()
CONSENT_EVENTS = Counter(
    "portal_consent_changes_total",
    "Applied consent changes, by action, source and new status",
    ["action", "source", "new_status"],
    registry=PROCESS_REGISTRY,
)
REQUEST_SECONDS = Histogram(
    "portal_request_seconds",
    "Time to answer a request",
    ["method", "status"],
    registry=PROCESS_REGISTRY,
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
# Time from a revocation's received_at to applied_at (FCC 24-24: within 10 business days;
# the portal applies at once, except those waiting for staff).
REVOCATION_APPLY_SECONDS = Histogram(
    "portal_revocation_apply_seconds",
    "Seconds from a revocation's received_at to applied_at, by channel and how applied",
    ["channel", "path"],
    registry=PROCESS_REGISTRY,
    buckets=(1, 5, 30, 60, 300, 3600, 4 * 3600, 86400, 3 * 86400, 7 * 86400, 14 * 86400),
)
# Time from a revocation's received_at to the moment every provider delivery it caused was
# acknowledged (revocations.measure, a RevocationInStep row).
REVOCATION_IN_STEP_SECONDS = Histogram(
    "portal_revocation_in_step_seconds",
    "Seconds from a revocation's received_at to every provider in step, by channel and how applied",
    ["channel", "path"],
    registry=PROCESS_REGISTRY,
    buckets=(1, 5, 30, 60, 300, 3600, 4 * 3600, 86400, 3 * 86400, 7 * 86400, 14 * 86400),
)
OPEN_STATUSES = [SyncStatus.PENDING, SyncStatus.SENDING, SyncStatus.FAILED, SyncStatus.LOCAL_ONLY]


@receiver(subscription_changed, dispatch_uid="metrics.count_consent_changes")
def count_consent_changes(sender, events, source, **kwargs):
    for (action, new_status), count in _tally(events).items():
        CONSENT_EVENTS.labels(action, source, new_status or "none").inc(count)


def _tally(events) -> dict[tuple[str, str], int]:
    """(action, new status) -> events. A set-based import announces its chunk as a lazy
    QuerySet of tens of thousands of rows: counted by the database in one query, not read
    row by row (it was a third of the import's time); a service's list is counted here."""
    if isinstance(events, QuerySet):
        rows = events.order_by().values_list("action", "new_status").annotate(n=Count("pk"))
        return {(action, new_status): n for action, new_status, n in rows}
    tally: dict[tuple[str, str], int] = {}
    for event in events:
        key = (event.action, event.new_status)
        tally[key] = tally.get(key, 0) + 1
    return tally


logger = logging.getLogger("subscriptions.metrics")


def _observe_applied(revocation, applied_at, path):
    if applied_at is not None:
        seconds = max(0.0, (applied_at - revocation.received_at).total_seconds())
        REVOCATION_APPLY_SECONDS.labels(revocation.channel, path).observe(seconds)


def _never_raises(receiver_function):
    """A metrics receiver runs inside the transaction of the change it counts: a failure
    there must be logged, never roll the change (a revocation) back."""

    @functools.wraps(receiver_function)
    def observe(*args, **kwargs):
        try:
            receiver_function(*args, **kwargs)
        except Exception:
            logger.exception("metrics receiver %s failed", receiver_function.__name__)

    return observe


@receiver(revocation_received, dispatch_uid="metrics.revocation_received")
@_never_raises
def time_revocation_applied_at_receipt(sender, revocation, **kwargs):
    _observe_applied(revocation, revocation.applied_at, "at_receipt")


@receiver(revocation_decided, dispatch_uid="metrics.revocation_decided")
@_never_raises
def time_revocation_applied_by_staff(sender, revocation, **kwargs):
    decision = revocation.decision
    if decision.decision == RevocationDecisionKind.REVOKE:
        _observe_applied(revocation, decision.decided_at, "decided")


@receiver(revocation_in_step, dispatch_uid="metrics.revocation_in_step")
@_never_raises
def time_revocation_in_step(sender, revocation, in_step, **kwargs):
    path = "at_receipt" if revocation.applied_at is not None else "decided"
    seconds = max(0.0, (in_step.in_step_at - revocation.received_at).total_seconds())
    REVOCATION_IN_STEP_SECONDS.labels(revocation.channel, path).observe(seconds)


class OutboxCollector:
    """Provider sync rows still needing attention, by provider account and status."""

    def collect(self):
        gauge = GaugeMetricFamily(
            "portal_provider_syncs",
            "Provider sync rows by provider account and status",
            labels=["provider", "status"],
        )
        rows = (
            ProviderSync.objects.filter(status__in=OPEN_STATUSES)
            .values_list("provider__name", "status")
            .annotate(n=Count("id"))
        )
        for provider, status, count in rows:
            gauge.add_metric([provider, status], count)
        yield gauge


class DriftCollector:
    """Drift reconciliation found, by provider account and what was done about it."""

    def collect(self):
        gauge = GaugeMetricFamily(
            "portal_reconciliation_drift",
            "Drift rows found by reconciliation (dry runs excluded), by provider and action",
            labels=["provider", "action"],
        )
        rows = (
            Drift.objects.filter(reconciliation__dry_run=False)
            .values_list("reconciliation__provider__name", "action")
            .annotate(n=Count("id"))
        )
        for provider, action, count in rows:
            gauge.add_metric([provider, action], count)
        yield gauge


class RequestTimingMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        started = time.perf_counter()
        response = self.get_response(request)
        REQUEST_SECONDS.labels(request.method, str(response.status_code)).observe(
            time.perf_counter() - started
        )
        return response


def _scrape():
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        process_metrics = generate_latest(registry)
    else:
        process_metrics = generate_latest(PROCESS_REGISTRY)
    outbox = CollectorRegistry()
    outbox.register(OutboxCollector())
    outbox.register(DriftCollector())
    return process_metrics + generate_latest(outbox)


def _authorized(request):
    token = settings.PORTAL_METRICS_TOKEN
    offered = request.headers.get("Authorization", "").removeprefix("Bearer ").strip()
    if token and offered and hmac.compare_digest(offered, token):
        return True
    # A staff login is not enough: the outbox and latency figures are operations data.
    return request.user.is_authenticated and request.user.has_perm(METRICS_PERMISSION)


METRICS_PERMISSION = "subscriptions.view_metrics"


def metrics(request):
    if not _authorized(request):
        return HttpResponseForbidden(
            "metrics need the bearer token (PORTAL_METRICS_TOKEN) or a login with the "
            "view_metrics permission\n"
        )
    return HttpResponse(_scrape(), content_type=CONTENT_TYPE_LATEST)
