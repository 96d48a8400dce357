"""The dashboard's charts as SVG markup, written in Python (issue 14).

The same markup the template used to build with loops, tags and filters: one chart is some
thirty template nodes, and a dashboard of ten codes with five programs each has sixty charts,
so the template engine alone cost more than the page's data. Here a chart is a few string
formats. Every text that comes from data (titles, series names, colours) is escaped; numbers
are written with a decimal point whatever the reader's language (the template localised
them, which gives "12,5" in Spanish, not a coordinate).
"""

from functools import lru_cache

from django.utils.dateformat import format as date_format
from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import get_language


def _day_label(day) -> str:
    """ "Nov 3", as the template's |date:"M j" (the month abbreviation is translated)."""
    return _label_in(day, get_language())


@lru_cache(maxsize=1024)
def _label_in(day, language) -> str:
    return escape(date_format(day, "M j"))


def summary(chart) -> str:
    """ "4 opt-ins, 1 opt-out, 1 STOP": the figure's caption and the chart's text
    alternative say the same."""
    return ", ".join(line.phrase for line in chart.lines)


def _y_ticks(chart):
    left, right, label_x = chart.left, chart.right, chart.left - 6
    return "".join(
        f'<line class="grid" x1="{left}" y1="{y}" x2="{right}" y2="{y}"/>'
        f'<text class="tick" x="{label_x}" y="{y}" text-anchor="end" '
        f'dominant-baseline="middle">{value}</text>'
        for value, y in chart.y_ticks
    )


def _x_ticks(chart):
    bottom, label_y, last = chart.bottom, chart.height - 8, len(chart.x_ticks) - 1
    anchors = ["start" if i == 0 else "end" if i == last else "middle" for i in range(last + 1)]
    return "".join(
        f'<line class="axis" x1="{x}" y1="{bottom}" x2="{x}" y2="{bottom + 4}"/>'
        f'<text class="tick" x="{x}" y="{label_y}" text-anchor="{anchor}">'
        f"{_day_label(day)}</text>"
        for (day, x), anchor in zip(chart.x_ticks, anchors, strict=True)
    )


@lru_cache(maxsize=64)
def _series(name, color) -> str:
    return f'data-series="{escape(name)}" fill="none" stroke="{escape(color)}"'


def _lines(chart):
    return "".join(
        f'<polyline class="series" {_series(line.name, line.color)} stroke-width="2.5" '
        f'points="{line.points}"/>'
        for line in chart.lines
    )


def chart_svg(chart) -> SafeString:
    """The <svg> of one dashboard chart (subscriptions.admin.dashboard.Chart)."""
    first, last = (date_format(day, "M j") for day in (chart.first_day, chart.last_day))
    label = escape(f"{chart.title}: {summary(chart)} from {first} to {last}")
    left, bottom = chart.left, chart.bottom
    # Safe: every text from data in it is escaped above.
    return mark_safe(
        f'<svg viewBox="0 0 {chart.width} {chart.height}" preserveAspectRatio="xMidYMid meet" '
        f'role="img" aria-label="{label}">\n    {_y_ticks(chart)}\n'
        f'    <line class="axis" x1="{left}" y1="{chart.pad}" x2="{left}" y2="{bottom}"/>\n'
        f'    <line class="axis" x1="{left}" y1="{bottom}" x2="{chart.right}" y2="{bottom}"/>\n'
        f"    {_x_ticks(chart)}\n    {_lines(chart)}\n  </svg>"
    )
