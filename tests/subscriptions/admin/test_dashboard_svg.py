"""The dashboard's charts written in Python (subscriptions/admin/dashboard_svg.py): the
markup the template used to build, escaped, and with coordinates in any language."""

import re
from datetime import date

from django.utils import translation

from subscriptions.admin import dashboard
from subscriptions.admin.dashboard import line_chart

DAYS = [date(2026, 11, 1), date(2026, 11, 2), date(2026, 11, 3)]


def test_a_chart_has_its_text_alternative_axes_ticks_and_one_line_per_series():
    chart = line_chart("12345 · DEALS", DAYS, {"opt-ins": [0, 3, 1], "opt-outs": [1, 0, 0]})
    svg = str(chart.svg)
    assert svg.startswith(f'<svg viewBox="0 0 {dashboard.WIDTH} {dashboard.HEIGHT}"')
    assert 'role="img" aria-label="12345 · DEALS: 4 opt-ins, 1 opt-out from Nov 1 to Nov 3"' in svg
    assert chart.summary == "4 opt-ins, 1 opt-out"
    assert re.findall(r'data-series="([^"]+)"', svg) == ["opt-ins", "opt-outs"]
    assert re.findall(r'<text class="tick"[^>]*>([^<]*)</text>', svg) == [
        "0", "1", "3", "Nov 1", "Nov 2", "Nov 3",
    ]  # fmt: skip
    assert re.findall(r'text-anchor="(start|middle|end)">', svg) == ["start", "middle", "end"]
    assert svg.count('class="axis"') == 2 + 3  # two axes, three x ticks


def test_text_from_data_is_escaped():
    chart = line_chart('<b>"x"</b> & y', DAYS, {"opt-ins": [1, 2, 3]})
    svg = str(chart.svg)
    assert "<b>" not in svg
    assert 'aria-label="&lt;b&gt;&quot;x&quot;&lt;/b&gt; &amp; y: 6 opt-ins' in svg


def test_coordinates_keep_a_decimal_point_in_every_language():
    chart = line_chart("t", DAYS, {"opt-ins": [1, 2, 3]})
    with translation.override("es"):
        svg = str(chart.svg)
    numbers = re.findall(r' (?:x1|y1|x2|y2|x|y)="([^"]*)"', svg)
    assert numbers and all(re.fullmatch(r"\d+(\.\d+)?", n) for n in numbers), numbers
    assert "nov" in svg.lower()  # the day labels are still translated
