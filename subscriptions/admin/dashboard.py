"""The staff dashboard: opt-ins, opt-outs and STOPs per day (per short code and per program)
as server-rendered SVG charts, current subscription counts and provider sync health.

The activity of closed days is summed once into DailyActivity (the history never changes
afterwards); only today's is counted from the history on each (uncached) view. The page's
data is cached briefly in the shared cache so a busy console does not recompute it for
each visit.
"""

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, time, timedelta

from django.contrib import admin
from django.contrib.admin.views.decorators import staff_member_required
from django.core.cache import cache
from django.core.exceptions import PermissionDenied
from django.db import IntegrityError, transaction
from django.db.models import Count
from django.db.models.functions import TruncDate
from django.template.response import TemplateResponse
from django.utils import timezone

from subscriptions.models import (
    Action,
    ActivityDay,
    ActivitySeries,
    DailyActivity,
    Keyword,
    Outcome,
    ProviderSync,
    ShortCode,
    Status,
    Subscription,
    SubscriptionEvent,
    SyncStatus,
)
from subscriptions.reporting.csv_export import streaming_csv_response
from subscriptions.reporting.kpis import kpis
from subscriptions.revocations import selectors as revocation_selectors

DAYS = 30
RANGES = (7, 30, 90)  # the date ranges the page offers, in days
CACHE_KEY = "admin-dashboard-v2"
CACHE_SECONDS = 60
# The SVG's own coordinates; it is drawn at 100% of its box (viewBox), so it fits any width.
WIDTH, HEIGHT, PAD, LEFT = 640, 200, 28, 44
SERIES_COLORS = {"opt-ins": "#2e7d32", "opt-outs": "#c62828", "STOPs": "#1565c0"}
STOP_ACTIONS = (Action.STOP_ALL, Action.CUSTOM_STOP)
SYNC_HEALTH = (SyncStatus.PENDING, SyncStatus.FAILED, SyncStatus.LOCAL_ONLY)
SETTLE = timedelta(hours=1)


@dataclass
class Line:
    name: str
    color: str
    points: str
    total: int
    values: list = ()


@dataclass
class Chart:
    title: str
    lines: list
    peak: int
    first_day: object
    last_day: object
    y_ticks: list = ()
    x_ticks: list = ()
    days: list = ()
    width: int = WIDTH
    height: int = HEIGHT
    pad: int = PAD
    left: int = LEFT

    @property
    def bottom(self):
        return self.height - self.pad

    @property
    def right(self):
        return self.width - self.pad


def line_chart(title, days, series):
    """An SVG line chart model: one polyline per series over `days` (oldest first)."""
    peak = max([1, *(v for values in series.values() for v in values)])
    step = (WIDTH - LEFT - PAD) / max(len(days) - 1, 1)

    def y(value):
        return HEIGHT - PAD - value * (HEIGHT - 2 * PAD) / peak

    def x(i):
        return LEFT + i * step

    lines = [
        Line(
            name,
            SERIES_COLORS[name],
            " ".join(f"{x(i):.1f},{y(v):.1f}" for i, v in enumerate(values)),
            sum(values),
            list(values),
        )
        for name, values in series.items()
    ]
    levels = sorted({0, peak // 2, peak}) if peak > 1 else [0, 1]
    y_ticks = [(level, round(y(level), 1)) for level in levels]
    marks = sorted({0, (len(days) - 1) // 2, len(days) - 1})
    x_ticks = [(days[i], round(x(i), 1)) for i in marks]
    return Chart(title, lines, peak, days[0], days[-1], y_ticks, x_ticks, list(days))


def _day_range(today, days=DAYS):
    return [today - timedelta(days=days - 1 - i) for i in range(days)]


def _names():
    """{keyword id: (code, word)} and {short code id: code}: grouping by ids and naming them
    afterwards keeps the big aggregates free of joins."""
    keywords = {
        pk: (code, word)
        for pk, code, word in Keyword.objects.values_list("pk", "short_code__code", "word")
    }
    codes = dict(ShortCode.objects.values_list("pk", "code"))
    return keywords, codes


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


def _midnight(day):
    return timezone.make_aware(datetime.combine(day, time.min))


def _live_from(now):
    """Days from here on are counted live; earlier ones are closed (rolled up). A day
    closes SETTLE after midnight, so a transaction open across midnight has committed."""
    return _midnight(timezone.localtime(now - SETTLE).date())


def _roll_up(day):
    """Sum one closed day into DailyActivity, once: a concurrent dashboard that got there
    first wins, the other finds the day done."""
    with transaction.atomic():
        try:
            with transaction.atomic():
                ActivityDay.objects.create(day=day)
        except IntegrityError:
            return
        DailyActivity.objects.bulk_create(
            DailyActivity(
                day_id=day, short_code_id=code_id, keyword_id=keyword_id, series=series, count=n
            )
            for _day, code_id, keyword_id, series, n in _event_counts(
                _midnight(day), _midnight(day + timedelta(days=1))
            )
        )


def _closed_day_counts(since, live_from):
    first, stop = timezone.localdate(since), timezone.localdate(live_from)
    done = set(
        ActivityDay.objects.filter(day__gte=first, day__lt=stop).values_list("day", flat=True)
    )
    day = first
    while day < stop:
        if day not in done:
            _roll_up(day)
        day += timedelta(days=1)
    return list(
        DailyActivity.objects.filter(day__gte=first, day__lt=stop).values_list(
            "day_id", "short_code_id", "keyword_id", "series", "count"
        )
    )


def _daily_activity(since, now, keywords, codes):
    """{(code, word or None): {series name: {day: count}}} for applied events since `since`,
    by the day the portal recorded them (an import of old rows counts on the day it ran):
    closed days from their roll-up, the live ones from the history."""
    live_from = max(since, _live_from(now))
    activity = defaultdict(lambda: defaultdict(lambda: defaultdict(int)))
    for day, code_id, keyword_id, series, n in [
        *_closed_day_counts(since, live_from),
        *_event_counts(live_from),
    ]:
        code = codes[code_id]
        activity[(code, None)][series][day] += n
        if keyword_id is not None:
            activity[keywords[keyword_id]][series][day] += n
    return activity


def _charts(activity, days):
    charts = []
    for (code, word), series in sorted(activity.items(), key=lambda kv: (kv[0][0], kv[0][1] or "")):
        names = ["opt-ins", "opt-outs"] + ([] if word else ["STOPs"])
        charts.append(
            line_chart(
                f"{code} · {word}" if word else f"{code} (all programs)",
                days,
                {n: [series[n].get(d, 0) for d in days] for n in names},
            )
        )
    return charts


def _current_counts(keywords):
    counts = defaultdict(lambda: dict.fromkeys(Status.values, 0))
    for keyword_id, status, n in (
        Subscription.objects.values_list("keyword_id", "status").annotate(n=Count("id")).order_by()
    ):
        counts[keywords[keyword_id]][status] = n
    return [
        {"code": code, "word": word, **by_status}
        for (code, word), by_status in sorted(counts.items())
    ]


def _sync_health():
    health = defaultdict(lambda: dict.fromkeys(SYNC_HEALTH, 0))
    for provider, status, n in (
        ProviderSync.objects.filter(status__in=SYNC_HEALTH)
        .values_list("provider__name", "status")
        .annotate(n=Count("id"))
        .order_by()
    ):
        health[provider][status] = n
    return [{"provider": provider, **by_status} for provider, by_status in sorted(health.items())]


def dashboard_data(now=None, days=DAYS):
    now = now or timezone.now()
    day_list = _day_range(now.date(), days)
    since = now.replace(hour=0, minute=0, second=0, microsecond=0) - timedelta(days=days - 1)
    keywords, codes = _names()
    charts = _charts(_daily_activity(since, now, keywords, codes), day_list)
    counts = _current_counts(keywords)
    return {
        "charts": charts,
        "counts": counts,
        "kpis": kpis(charts, counts, days),
        "sync_health": _sync_health(),
        "revocations": revocation_selectors.dashboard_numbers(now),
        "computed_at": now,
        "days": days,
    }


def _csv(data):
    """The charts' numbers, one row per day, code, program and series."""
    yield ["day", "short_code", "program", "series", "count"]
    for chart in data["charts"]:
        code, _, word = chart.title.partition(" · ")
        code = code.removesuffix(" (all programs)")
        for line in chart.lines:
            for day, count in zip(chart.days, line.values, strict=True):
                yield [day.isoformat(), code, word or "(all programs)", line.name, count]


@staff_member_required
def dashboard(request):
    if not request.user.has_perm("subscriptions.view_subscriptionevent"):
        raise PermissionDenied
    days = int(request.GET["days"]) if request.GET.get("days", "").isdigit() else DAYS
    days = days if days in RANGES else DAYS
    key = f"{CACHE_KEY}:{days}"
    data = cache.get(key)
    if data is None:
        data = dashboard_data(days=days)
        cache.set(key, data, CACHE_SECONDS)
    if request.GET.get("format") == "csv":
        return streaming_csv_response(_csv(data), f"consent-dashboard-{days}-days.csv")
    return TemplateResponse(
        request,
        "admin/subscriptions/dashboard.html",
        {
            **admin.site.each_context(request),
            "title": "Consent dashboard",
            **data,
            "series_colors": SERIES_COLORS,
            "ranges": RANGES,
        },
    )
