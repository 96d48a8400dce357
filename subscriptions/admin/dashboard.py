"""The staff dashboard: opt-ins, opt-outs and STOPs per day (per short code and per program)
as server-rendered SVG charts, current subscription counts and provider sync health.

The page only reads: closed days come from the roll-ups that `manage.py close_activity_days`
writes on a schedule (subscriptions.reporting.activity), only today's activity is counted
from the history on each (uncached) view; the current counts and sync health come from the
snapshot the same schedule takes every few minutes (counting 2,000,000 subscriptions takes
most of a second), as do the closed days' roll-ups. `dashboard_data` is the data, apart
from the view and its template; the charts' SVG is written in Python (`dashboard_svg`), as a
template loop over sixty charts cost more than the data. The data is cached briefly in the
shared cache so a busy console does not recompute it for each visit; a cold view stores it
once its page has been sent.
"""

import logging
from collections import defaultdict
from dataclasses import dataclass
from datetime import timedelta
from functools import lru_cache

from django.contrib import admin
from django.contrib.admin.views.decorators import staff_member_required
from django.core.cache import cache
from django.core.exceptions import PermissionDenied
from django.template.response import TemplateResponse
from django.utils import timezone

from subscriptions.admin import dashboard_svg
from subscriptions.admin.contacts import staff_time_zone
from subscriptions.models import (
    ShortCode,
    Status,
)
from subscriptions.reconciliation.selectors import drift_numbers
from subscriptions.reporting import activity as rollups
from subscriptions.reporting.csv_export import streaming_csv_response
from subscriptions.reporting.kpis import attention_kpis, kpis, linked
from subscriptions.revocations import selectors as revocation_selectors

logger = logging.getLogger(__name__)

DAYS = 30
RANGES = (7, 30, 90)  # the date ranges the page offers, in days
CACHE_KEY = "admin-dashboard-v3"
CACHE_SECONDS = 60
# The SVG's own coordinates; it is drawn at 100% of its box (viewBox), so it fits any width.
# Near a phone's width, so its 11-unit tick labels stay readable there (about 10 px) and on a
# desktop, where the charts sit two or three abreast (about 13 px).
WIDTH, HEIGHT, PAD, LEFT = 360, 190, 22, 40
SERIES_COLORS = {"opt-ins": "#2e7d32", "opt-outs": "#c62828", "STOPs": "#1565c0"}


SINGULAR = {"opt-ins": "opt-in", "opt-outs": "opt-out", "STOPs": "STOP"}


@dataclass
class Line:
    name: str
    color: str
    points: str
    total: int
    values: list = ()

    @property
    def phrase(self) -> str:
        """The total as words: "1 opt-in", "3 opt-outs"."""
        return (
            f"{self.total} {SINGULAR.get(self.name, self.name) if self.total == 1 else self.name}"
        )


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

    @property
    def summary(self):
        return dashboard_svg.summary(self)

    @property
    def svg(self):
        return dashboard_svg.chart_svg(self)


def line_chart(title, days, series):
    """An SVG line chart model: one polyline per series over `days` (oldest first)."""
    peak = max([1, *(v for values in series.values() for v in values)])
    step = (WIDTH - LEFT - PAD) / max(len(days) - 1, 1)

    def y(value):
        return HEIGHT - PAD - value * (HEIGHT - 2 * PAD) / peak

    def x(i):
        return LEFT + i * step

    xs = _x_positions(len(days))
    lines = [
        Line(
            name,
            SERIES_COLORS[name],
            # y(v) written out: sixty charts of thirty days are thousands of points.
            " ".join(
                [
                    f"{x},{HEIGHT - PAD - v * (HEIGHT - 2 * PAD) / peak:.1f}"
                    for x, v in zip(xs, values, strict=True)
                ]
            ),
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


@lru_cache(maxsize=8)
def _x_positions(count):
    """The x coordinates of `count` days, as line_chart writes them: the same on every chart."""
    step = (WIDTH - LEFT - PAD) / max(count - 1, 1)
    return tuple(f"{LEFT + i * step:.1f}" for i in range(count))


def _day_range(today, days=DAYS):
    return [today - timedelta(days=days - 1 - i) for i in range(days)]


def _names():
    """{keyword id: (code, word)} and {short code id: code}, in one query: grouping by ids and
    naming them afterwards keeps the big aggregates free of joins."""
    keywords, codes = {}, {}
    rows = ShortCode.objects.values_list("pk", "code", "keywords__pk", "keywords__word")
    for code_id, code, keyword_id, word in rows.order_by():
        codes[code_id] = code
        if keyword_id is not None:
            keywords[keyword_id] = (code, word)
    return keywords, codes


def _daily_activity(since, now, keywords, codes, days, snapshot):
    """{(code, word or None): {series name: [count per day of `days`]}} for applied events
    since `since`, by the day the portal recorded them (an import of old rows counts on the
    day it ran): closed days from their roll-up, the others from the history
    (reporting.activity). Counts go straight into per-day lists: thousands of rows."""
    index = {day: i for i, day in enumerate(days)}
    activity = {}

    def add(key, series, i, n):
        by_series = activity.setdefault(key, {})
        if series not in by_series:
            by_series[series] = [0] * len(days)
        by_series[series][i] += n

    for day, code_id, keyword_id, series, n in rollups.activity_counts(since, now, snapshot):
        if (i := index.get(day)) is None:
            continue  # outside the charts' days
        add((codes[code_id], None), series, i, n)
        if keyword_id is not None:
            add(keywords[keyword_id], series, i, n)
    return activity


def _charts(activity, days):
    charts = []
    none = [0] * len(days)
    for (code, word), series in sorted(activity.items(), key=lambda kv: (kv[0][0], kv[0][1] or "")):
        names = ["opt-ins", "opt-outs"] + ([] if word else ["STOPs"])
        charts.append(
            line_chart(
                f"{code} · {word}" if word else f"{code} (all programs)",
                days,
                {n: series.get(n, none) for n in names},
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


def dashboard_data(now=None, days=DAYS):
    now = now or timezone.now()
    day_list = _day_range(now.date(), days)
    since = now.replace(hour=0, minute=0, second=0, microsecond=0) - timedelta(days=days - 1)
    keywords, codes = _names()
    snapshot = rollups.current_snapshot()
    activity = _daily_activity(since, now, keywords, codes, day_list, snapshot)
    charts = _charts(activity, day_list)
    counts = _current_counts(keywords, snapshot["subscriptions"])
    revocations = revocation_selectors.dashboard_numbers(now)
    return {
        "charts": charts,
        "counts": counts,
        "kpis": kpis(charts, counts, days),
        "sync_health": _sync_health(snapshot["syncs"]),
        "counts_at": snapshot["at"],
        "revocations": revocations,
        "attention": attention_kpis(revocations, drift_numbers(since, now), days),
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
    fresh = data is None
    if fresh:
        data = dashboard_data(days=days)
    if request.GET.get("format") == "csv":
        response = streaming_csv_response(_csv(data), f"consent-dashboard-{days}-days.csv")
    else:
        response = _page(request, data)
    return _kept_once_sent(response, key, data) if fresh else response


def _kept_once_sent(response, key, data):
    """`data` goes into the shared cache when `response` is closed, which a WSGI server does
    after its last byte is sent: a cold view does not wait for the write (with the database
    cache, a transaction and its commit). Written before the response's own close, which ends
    the request (and may close its database connection). A failed write only means the next
    view computes again."""
    close = response.close

    def close_and_keep():
        try:
            cache.set(key, data, CACHE_SECONDS)
        except Exception:
            logger.warning("dashboard: cannot keep %s in the cache", key, exc_info=True)
        close()

    response.close = close_and_keep
    return response


def _page(request, data):
    return TemplateResponse(
        request,
        "admin/subscriptions/dashboard.html",
        {
            **admin.site.each_context(request),
            "title": "Consent dashboard",
            **data,
            "attention": linked(data["attention"], request.user),
            "staff_zone": str(staff_time_zone(request)),
            "series_colors": SERIES_COLORS,
            "ranges": RANGES,
        },
    )
