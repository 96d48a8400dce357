"""The staff dashboard: opt-ins, opt-outs and STOPs per day (per short code and per program)
as server-rendered SVG charts, current subscription counts and provider sync health.

The page only reads: closed days come from the roll-ups that `manage.py close_activity_days`
writes on a schedule (subscriptions.reporting.activity), only today's activity is counted
from the history on each (uncached) view; the current counts and sync health come from the
snapshot the same schedule takes every few minutes (counting 2,000,000 subscriptions takes
most of a second). `dashboard_data` is the data, apart from the view
and its template. The data is cached briefly in the shared cache so a busy console does not
recompute it for each visit.
"""

from collections import defaultdict
from dataclasses import dataclass
from datetime import timedelta

from django.contrib import admin
from django.contrib.admin.views.decorators import staff_member_required
from django.core.cache import cache
from django.core.exceptions import PermissionDenied
from django.template.response import TemplateResponse
from django.utils import timezone

from subscriptions.models import (
    Keyword,
    ShortCode,
    Status,
)
from subscriptions.reporting import activity as rollups

DAYS = 30
CACHE_KEY = "admin-dashboard-v1"
CACHE_SECONDS = 60
WIDTH, HEIGHT, PAD = 560, 150, 28
SERIES_COLORS = {"opt-ins": "#2e7d32", "opt-outs": "#c62828", "STOPs": "#1565c0"}


@dataclass
class Line:
    name: str
    color: str
    points: str
    total: int


@dataclass
class Chart:
    title: str
    lines: list
    peak: int
    first_day: object
    last_day: object
    width: int = WIDTH
    height: int = HEIGHT
    pad: int = PAD

    @property
    def bottom(self):
        return self.height - self.pad

    @property
    def right(self):
        return self.width - self.pad


def line_chart(title, days, series):
    """An SVG line chart model: one polyline per series over `days` (oldest first)."""
    peak = max([1, *(v for values in series.values() for v in values)])
    step = (WIDTH - 2 * PAD) / max(len(days) - 1, 1)

    def y(value):
        return HEIGHT - PAD - value * (HEIGHT - 2 * PAD) / peak

    lines = [
        Line(
            name,
            SERIES_COLORS[name],
            " ".join(f"{PAD + i * step:.1f},{y(v):.1f}" for i, v in enumerate(values)),
            sum(values),
        )
        for name, values in series.items()
    ]
    return Chart(title, lines, peak, days[0], days[-1])


def _day_range(today):
    return [today - timedelta(days=DAYS - 1 - i) for i in range(DAYS)]


def _names():
    """{keyword id: (code, word)} and {short code id: code}: grouping by ids and naming them
    afterwards keeps the big aggregates free of joins."""
    keywords = {
        pk: (code, word)
        for pk, code, word in Keyword.objects.values_list("pk", "short_code__code", "word")
    }
    codes = dict(ShortCode.objects.values_list("pk", "code"))
    return keywords, codes


def _daily_activity(since, now, keywords, codes):
    """{(code, word or None): {series name: {day: count}}} for applied events since `since`,
    by the day the portal recorded them (an import of old rows counts on the day it ran):
    closed days from their roll-up, the others from the history (reporting.activity)."""
    activity = defaultdict(lambda: defaultdict(lambda: defaultdict(int)))
    for day, code_id, keyword_id, series, n in rollups.activity_counts(since, now):
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


def _current_counts(keywords, rows):
    counts = defaultdict(lambda: dict.fromkeys(Status.values, 0))
    for keyword_id, status, n in rows:
        counts[keywords[keyword_id]][status] = n
    return [
        {"code": code, "word": word, **by_status}
        for (code, word), by_status in sorted(counts.items())
    ]


def _sync_health(rows):
    health = defaultdict(lambda: dict.fromkeys(rollups.SYNC_HEALTH, 0))
    for provider, status, n in rows:
        health[provider][status] = n
    return [{"provider": provider, **by_status} for provider, by_status in sorted(health.items())]


def dashboard_data(now=None):
    now = now or timezone.now()
    days = _day_range(now.date())
    since = now.replace(hour=0, minute=0, second=0, microsecond=0) - timedelta(days=DAYS - 1)
    keywords, codes = _names()
    snapshot = rollups.current_snapshot()
    return {
        "charts": _charts(_daily_activity(since, now, keywords, codes), days),
        "counts": _current_counts(keywords, snapshot["subscriptions"]),
        "sync_health": _sync_health(snapshot["syncs"]),
        "counts_at": snapshot["at"],
        "computed_at": now,
        "days": DAYS,
    }


@staff_member_required
def dashboard(request):
    if not request.user.has_perm("subscriptions.view_subscriptionevent"):
        raise PermissionDenied
    data = cache.get(CACHE_KEY)
    if data is None:
        data = dashboard_data()
        cache.set(CACHE_KEY, data, CACHE_SECONDS)
    return TemplateResponse(
        request,
        "admin/subscriptions/dashboard.html",
        {
            **admin.site.each_context(request),
            "title": "Consent dashboard",
            **data,
            "series_colors": SERIES_COLORS,
        },
    )
