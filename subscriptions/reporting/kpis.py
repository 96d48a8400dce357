"""The dashboard's headline figures, computed from what the dashboard already reads (its
per-code activity lines and current counts), so tiles and charts always agree.

- Net growth: program opt-ins minus program opt-outs in the period.
- Opt-out rate: program opt-outs in the period per audience, the audience being the
  subscriptions opted in now plus those that left in the period.
- STOP rate: code-wide STOPs in the period per the same audience.
- Pending confirmations: subscriptions waiting for a double opt-in "Y" now."""

from dataclasses import dataclass


@dataclass(frozen=True)
class Kpi:
    key: str
    label: str
    value: str
    detail: str


def _rate(part: int, whole: int) -> str:
    return f"{100 * part / whole:.1f}%" if whole else "—"


def kpis(charts, counts, days: int) -> list[Kpi]:
    totals = {"opt-ins": 0, "opt-outs": 0, "STOPs": 0}
    for chart in charts:
        if not chart.title.endswith("(all programs)"):
            continue  # per-program charts repeat what their code's chart holds
        for line in chart.lines:
            totals[line.name] += line.total
    opted_in = sum(row["opted_in"] for row in counts)
    pending = sum(row["pending"] for row in counts)
    audience = opted_in + totals["opt-outs"]
    growth = totals["opt-ins"] - totals["opt-outs"]
    period = f"last {days} days"
    return [
        Kpi(
            "net-growth",
            "Net growth",
            f"{growth:+d}",
            f"{totals['opt-ins']} opt-ins minus {totals['opt-outs']} opt-outs, {period}",
        ),
        Kpi(
            "opt-out-rate",
            "Opt-out rate",
            _rate(totals["opt-outs"], audience),
            f"{totals['opt-outs']} opt-outs of an audience of {audience}, {period}",
        ),
        Kpi(
            "stop-rate",
            "STOP rate",
            _rate(totals["STOPs"], audience),
            f"{totals['STOPs']} STOPs of an audience of {audience}, {period}",
        ),
        Kpi(
            "pending",
            "Pending confirmations",
            str(pending),
            "subscriptions waiting for the person's Y (double opt-in), now",
        ),
    ]
