"""Daily consent activity for the dashboard: applied opt-ins, opt-outs and STOPs per day, per
short code and program.

A closed day never changes (the history is append-only and events are recorded when they
are written), so `close_days` sums each closed day once into DailyActivity; it runs on a
schedule (`manage.py close_activity_days`: the Procfile's `rollup` process or
deploy/systemd/portal-rollup.timer), never in a page view. `activity_counts` only reads:
closed days from their roll-up, every other day (today, and a closed day the schedule has
not reached yet) from the history in one grouped query, so a page is right even when the
schedule is late, only slower.

The current subscription counts (per program and status) and the provider sync health are
whole-table counts; `take_snapshot` (the same schedule, every few minutes) keeps them in the
shared cache with their time, and `current_snapshot` reads them there, counting for itself
only when the snapshot is missing or older than SNAPSHOT_SECONDS. The snapshot also holds
the live days' activity up to its time, so a page counts from the history only what was
recorded since (an event whose transaction commits after a snapshot that its recorded_at
precedes is missing from the chart until its day is rolled up, at most a day later), and a
copy of the last SNAPSHOT_DAYS days' roll-ups, so a cold page reads them with it: the page
still asks which days are rolled up (one small query) and reads any day the copy lacks from
DailyActivity.
"""

from collections import defaultdict
from datetime import date, datetime, time, timedelta

from django.core.cache import cache
from django.db import IntegrityError, transaction
from django.db.models import Count
from django.db.models.functions import TruncDate
from django.utils import timezone

from subscriptions.models import (
    Action,
    ActivityDay,
    ActivitySeries,
    DailyActivity,
    Outcome,
    ProviderSync,
    Status,
    Subscription,
    SubscriptionEvent,
    SyncStatus,
)

STOP_ACTIONS = (Action.STOP_ALL, Action.CUSTOM_STOP)
SETTLE = timedelta(hours=1)
CLOSE_DAYS = 30  # how far back close_days looks by default (the dashboard's range)
SYNC_HEALTH = (SyncStatus.PENDING, SyncStatus.FAILED, SyncStatus.LOCAL_ONLY)
SNAPSHOT_KEY = "dashboard-current-v1"
SNAPSHOT_SECONDS = 15 * 60  # an older snapshot is not used: the page counts for itself
SNAPSHOT_DAYS = 90  # the roll-ups the snapshot copies: the dashboard's longest range
ROLLED_FIELDS = ("day_id", "short_code_id", "keyword_id", "series", "count")


def _series(action, new_status):
    """Which line of the charts an applied event counts in (None: in none)."""
    if action in STOP_ACTIONS and not new_status:  # the code-wide STOP event itself
        return ActivitySeries.STOPS
    return {Status.OPTED_IN: ActivitySeries.OPT_INS, Status.OPTED_OUT: ActivitySeries.OPT_OUTS}.get(
        new_status
    )


def _event_counts(start, end=None):
    """[(day, short code id, keyword id, series, n)] of applied events recorded in
    [start, end): one grouped query over the indexed recorded_at range."""
    events = SubscriptionEvent.objects.filter(outcome=Outcome.APPLIED, recorded_at__gte=start)
    if end is not None:
        events = events.filter(recorded_at__lt=end)
    rows = (
        events.annotate(day=TruncDate("recorded_at"))
        .values_list("day", "short_code_id", "keyword_id", "action", "new_status")
        .annotate(n=Count("id"))
        .order_by()
    )
    counts = defaultdict(int)
    for day, code_id, keyword_id, action, new_status, n in rows:
        if series := _series(action, new_status):
            counts[(day, code_id, keyword_id, series)] += n
    return [(*key, n) for key, n in counts.items()]


def midnight(day: date) -> datetime:
    return timezone.make_aware(datetime.combine(day, time.min))


def live_from(now: datetime) -> datetime:
    """Days from here on are counted live; earlier ones are closed (can be rolled up). A day
    closes SETTLE after midnight, so a transaction open across midnight has committed."""
    return midnight(timezone.localtime(now - SETTLE).date())


def _roll_up(day: date) -> bool:
    """Sum one closed day into DailyActivity, once: a concurrent run that got there first
    wins, the other finds the day done (False)."""
    with transaction.atomic():
        try:
            with transaction.atomic():
                ActivityDay.objects.create(day=day)
        except IntegrityError:
            return False
        DailyActivity.objects.bulk_create(
            DailyActivity(
                day_id=day, short_code_id=code_id, keyword_id=keyword_id, series=series, count=n
            )
            for _day, code_id, keyword_id, series, n in _event_counts(
                midnight(day), midnight(day + timedelta(days=1))
            )
        )
    return True


def close_days(now: datetime | None = None, days: int = CLOSE_DAYS) -> list[date]:
    """Roll up every closed day of the last `days` not rolled up yet; returns those days."""
    stop = timezone.localdate(live_from(now or timezone.now()))
    first = stop - timedelta(days=days)
    done = set(
        ActivityDay.objects.filter(day__gte=first, day__lt=stop).values_list("day", flat=True)
    )
    closed = []
    day = first
    while day < stop:
        if day not in done and _roll_up(day):
            closed.append(day)
        day += timedelta(days=1)
    return closed


def activity_counts(since: datetime, now: datetime, snapshot: dict | None = None) -> list[tuple]:
    """[(day, short code id, keyword id, series, n)] of applied events recorded since
    `since` (read only): rolled-up days from DailyActivity (through the snapshot's copy of
    it), the others from the history. `snapshot`: the current one, if the caller has it."""
    first, stop = timezone.localdate(since), timezone.localdate(max(since, live_from(now)))
    done = set(
        ActivityDay.objects.filter(day__gte=first, day__lt=stop).values_list("day", flat=True)
    )
    if snapshot is None:
        snapshot = cache.get(SNAPSHOT_KEY) or {}
    rolled = _rolled_rows(done, snapshot)
    missing = [first + timedelta(days=i) for i in range((stop - first).days)]
    missing = [day for day in missing if day not in done]
    live_start = max(since, midnight(missing[0]) if missing else live_from(now))
    counted = []
    if not missing and snapshot.get("live_from") == live_start:
        # The schedule counted the live days up to its snapshot: only what came since.
        counted, live_start = snapshot["live"], snapshot["at"]
    live = [row for row in _event_counts(live_start) if row[0] not in done]
    return rolled + _merged(counted, live)


def _rolled_rows(done: set[date], snapshot: dict) -> list[tuple]:
    """The DailyActivity rows of the rolled-up days `done`: of the days the snapshot holds,
    from its copy (a rolled-up day never changes), of any other from the table."""
    held = done.intersection((snapshot.get("closed") or {}).get("days", ()))
    rows = [row for row in snapshot["closed"]["rows"] if row[0] in held] if held else []
    if others := done - held:
        rows += DailyActivity.objects.filter(day__in=others).values_list(*ROLLED_FIELDS)
    return rows


def _closed_copy(now: datetime) -> dict:
    """The rolled-up days of the last SNAPSHOT_DAYS and their rows, for the snapshot."""
    stop = timezone.localdate(live_from(now))
    first = stop - timedelta(days=SNAPSHOT_DAYS)
    days = set(
        ActivityDay.objects.filter(day__gte=first, day__lt=stop).values_list("day", flat=True)
    )
    rows = DailyActivity.objects.filter(day__gte=first, day__lt=stop).values_list(*ROLLED_FIELDS)
    # A day rolled up between the two reads is left to the table (its rows may be here).
    return {"days": days, "rows": [row for row in rows if row[0] in days]}


def _merged(*row_lists):
    counts = defaultdict(int)
    for rows in row_lists:
        for day, code_id, keyword_id, series, n in rows:
            counts[(day, code_id, keyword_id, series)] += n
    return [(*key, n) for key, n in counts.items()]


def take_snapshot(now: datetime | None = None) -> dict:
    """Count the subscriptions per program and status and the unhealthy syncs per provider
    now, and the live days' activity so far, and keep them in the shared cache for the
    dashboard."""
    now = now or timezone.now()
    snapshot = {
        "subscriptions": list(
            Subscription.objects.values_list("keyword_id", "status")
            .annotate(n=Count("id"))
            .order_by()
        ),
        "syncs": list(
            ProviderSync.objects.filter(status__in=SYNC_HEALTH)
            .values_list("provider__name", "status")
            .annotate(n=Count("id"))
            .order_by()
        ),
        "at": now,
        # The live days so far (today's activity on a big history is most of a cold page).
        "live_from": live_from(now),
        "live": _event_counts(live_from(now), now),
        # The roll-ups a page reads, so a cold page does not read them again.
        "closed": _closed_copy(now),
    }
    cache.set(SNAPSHOT_KEY, snapshot, SNAPSHOT_SECONDS)
    return snapshot


def current_snapshot() -> dict:
    """The latest snapshot of the current counts (at most SNAPSHOT_SECONDS old)."""
    return cache.get(SNAPSHOT_KEY) or take_snapshot()
