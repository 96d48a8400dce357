"""The dashboard's cold path (issue 14): the schedule's snapshot carries the closed days'
roll-ups, so a cold page reads them with the snapshot, and the page's data goes into the
cache once the page is sent. Query counts, never times."""

from datetime import timedelta

import pytest
from django.core.cache import cache
from django.core.signals import request_finished
from django.db import close_old_connections, connection
from django.test import RequestFactory
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from subscriptions.admin.dashboard import CACHE_KEY, DAYS, dashboard, dashboard_data
from subscriptions.consent import services
from subscriptions.consent.services import Context
from subscriptions.reporting.activity import close_days, take_snapshot

pytestmark = pytest.mark.django_db

# The keyword and code names, the snapshot, which days are rolled up, the history since the
# snapshot, the revocation numbers, their in-step times, the drift found: one query each.
COLD_DATA_QUERIES = 7


@pytest.fixture
def three_days_later(member, code, news):
    services.opt_out(member, news, Context(source="web"))
    services.stop_all("+15555550007", code, Context(source="mo"))
    return timezone.now() + timedelta(days=3)


def totals(data):
    return {c.title: {line.name: line.total for line in c.lines} for c in data["charts"]}


def sent(response):
    """Close `response` as a WSGI server does after its last byte, keeping the test's database
    connection (request_finished would close it; Django's test client does the same)."""
    request_finished.disconnect(close_old_connections)
    try:
        response.close()
    finally:
        request_finished.connect(close_old_connections)


def reads_of(queries, table):
    return [q["sql"] for q in queries if f'"subscriptions_{table}"' in q["sql"]]


def test_a_cold_page_reads_the_closed_days_from_the_schedules_snapshot(three_days_later):
    live = totals(dashboard_data())
    close_days(now=three_days_later)
    take_snapshot(now=three_days_later)  # the schedule: roll-ups, then the snapshot

    with CaptureQueriesContext(connection) as queries:
        data = dashboard_data(now=three_days_later)

    assert totals(data) == live
    assert live["12345 (all programs)"] == {"opt-ins": 2, "opt-outs": 1, "STOPs": 1}
    assert reads_of(queries, "dailyactivity") == []
    assert len(queries) == COLD_DATA_QUERIES, "\n".join(q["sql"][:100] for q in queries)


def test_days_rolled_up_after_the_snapshot_are_read_from_their_table(three_days_later):
    live = totals(dashboard_data())
    take_snapshot(now=three_days_later)  # before the days are rolled up
    close_days(now=three_days_later)

    with CaptureQueriesContext(connection) as queries:
        data = dashboard_data(now=three_days_later)

    assert totals(data) == live
    assert len(reads_of(queries, "dailyactivity")) == 1
    assert len(queries) == COLD_DATA_QUERIES + 1


def test_the_page_is_kept_in_the_cache_once_it_is_sent(marketing, three_days_later):
    cache.clear()
    request = RequestFactory().get("/admin/dashboard/")
    request.user = marketing
    response = dashboard(request)
    response.render()
    assert b"Consent dashboard" in response.content
    assert cache.get(f"{CACHE_KEY}:{DAYS}") is None  # not while the page is on its way

    sent(response)

    kept = cache.get(f"{CACHE_KEY}:{DAYS}")
    assert totals(kept) == totals(dashboard_data())
    with CaptureQueriesContext(connection) as queries:
        sent(dashboard(request))
    assert reads_of(queries, "subscriptionevent") == []  # served from the cache
