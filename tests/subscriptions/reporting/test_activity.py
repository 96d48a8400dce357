"""Dashboard roll-ups are closed by `manage.py close_activity_days` (a schedule), once each."""

from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import call_command
from django.utils import timezone

from subscriptions.consent import services
from subscriptions.consent.context import Context
from subscriptions.models import ActivityDay, DailyActivity, SubscriptionEvent
from subscriptions.reporting import activity
from tests.factories import KeywordFactory, ShortCodeFactory

pytestmark = pytest.mark.django_db


def test_the_command_rolls_up_closed_days_once(monkeypatch):
    keyword = KeywordFactory(short_code=ShortCodeFactory(code="12345"), word="JOIN")
    services.opt_in("+15555551212", keyword, Context(source="api"))
    assert SubscriptionEvent.objects.count() == 1
    later = timezone.now() + timedelta(days=2)
    monkeypatch.setattr(activity.timezone, "now", lambda: later)

    out = StringIO()
    call_command("close_activity_days", stdout=out)
    assert "rolled up" in out.getvalue()
    assert ActivityDay.objects.count() == activity.CLOSE_DAYS
    assert list(DailyActivity.objects.values_list("keyword__word", "series", "count")) == [
        ("JOIN", "opt-ins", 1)
    ]

    call_command("close_activity_days", stdout=StringIO())
    assert ActivityDay.objects.count() == activity.CLOSE_DAYS  # each day once


def test_the_page_data_reads_without_writing():
    services.opt_in(
        "+15555551212",
        KeywordFactory(short_code=ShortCodeFactory(code="12345"), word="JOIN"),
        Context(source="api"),
    )
    since = timezone.now() - timedelta(days=10)
    counts = activity.activity_counts(since, timezone.now() + timedelta(days=3))
    assert [(series, n) for _day, _code, _kw, series, n in counts] == [("opt-ins", 1)]
    assert not ActivityDay.objects.exists()


def test_current_counts_come_from_the_schedule_s_snapshot():
    keyword = KeywordFactory(short_code=ShortCodeFactory(code="12345"), word="JOIN")
    activity.cache.delete(activity.SNAPSHOT_KEY)
    call_command("close_activity_days", stdout=StringIO())  # takes the snapshot too
    assert activity.current_snapshot()["subscriptions"] == []
    services.opt_in("+15555551212", keyword, Context(source="api"))
    assert activity.current_snapshot()["subscriptions"] == []  # as of the last run
    activity.take_snapshot()
    assert activity.current_snapshot()["subscriptions"] == [(keyword.pk, "opted_in", 1)]


def test_the_live_days_come_from_the_snapshot_plus_what_came_since(monkeypatch):
    code = ShortCodeFactory(code="12345")
    join, news = (KeywordFactory(short_code=code, word=w) for w in ("JOIN", "NEWS"))
    services.opt_in("+15555551212", join, Context(source="api"))
    activity.close_days()  # every earlier day rolled up: the snapshot covers the live ones
    activity.take_snapshot()
    snapshot = activity.cache.get(activity.SNAPSHOT_KEY)
    snapshot["live"] = [(d, c, k, s, n + 100) for d, c, k, s, n in snapshot["live"]]
    activity.cache.set(activity.SNAPSHOT_KEY, snapshot)  # marks what came from it
    services.opt_in("+15555551213", join, Context(source="api"))  # after the snapshot
    services.opt_in("+15555551213", news, Context(source="api"))
    since = timezone.now() - timedelta(days=3)
    counts = activity.activity_counts(since, timezone.now())
    by_word = {kw: n for _day, _code, kw, _series, n in counts}
    assert by_word == {join.pk: 101 + 1, news.pk: 1}
