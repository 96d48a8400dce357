"""The dashboard's headline figures, computed from what the dashboard already reads (its
per-code activity lines and current counts), so tiles and charts always agree.

- Net growth: program opt-ins minus program opt-outs in the period.
- Opt-out rate: program opt-outs in the period per audience, the audience being the
  subscriptions opted in now plus those that left in the period.
- STOP rate: code-wide STOPs in the period per the same audience.
- Pending confirmations: subscriptions waiting for a double opt-in "Y" now.

`attention_kpis` adds what needs a person (revocations due, drift found), from the
revocations and reconciliation selectors; it is apart from `kpis` so each can grow alone."""

from dataclasses import dataclass, replace

from django.urls import reverse

from subscriptions.reconciliation.selectors import DriftNumbers
from subscriptions.revocations.selectors import DashboardNumbers


@dataclass(frozen=True)
class Kpi:
    key: str
    label: str
    value: str
    detail: str
    url_name: str = ""  # an admin page with the rows behind the figure
    perm: str = ""  # the permission that page needs (the tile links only for holders)


def _rate(part: int, whole: int) -> str:
    return f"{100 * part / whole:.1f}%" if whole else "—"


def _n(count: int, one: str, many: str) -> str:
    return f"{count} {one if count == 1 else many}"


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
            f"{_n(totals['opt-ins'], 'opt-in', 'opt-ins')} minus "
            f"{_n(totals['opt-outs'], 'opt-out', 'opt-outs')}, {period}",
        ),
        Kpi(
            "opt-out-rate",
            "Opt-out rate",
            _rate(totals["opt-outs"], audience),
            f"{_n(totals['opt-outs'], 'opt-out', 'opt-outs')} of an audience of {audience}, "
            f"{period}",
        ),
        Kpi(
            "stop-rate",
            "STOP rate",
            _rate(totals["STOPs"], audience),
            f"{_n(totals['STOPs'], 'STOP', 'STOPs')} of an audience of {audience}, {period}",
        ),
        Kpi(
            "pending",
            "Pending confirmations",
            str(pending),
            "subscriptions waiting for the person's Y (double opt-in), now",
        ),
    ]


def attention_kpis(revocations: DashboardNumbers, drift: DriftNumbers, days: int) -> list[Kpi]:
    """Revocations waiting for a staff decision (now) and drift found (in the period)."""
    resent = (
        f"; {_n(drift.resent_unread, 'opt-out', 'opt-outs')} sent again to providers that "
        "cannot be read"
        if drift.resent_unread
        else ""
    )
    return [
        Kpi(
            "revocations-due",
            "Revocations due",
            str(revocations.due),
            f"waiting for a staff decision now, {revocations.overdue} overdue",
            "admin:subscriptions_revocation_changelist",
            "subscriptions.view_revocation",
        ),
        Kpi(
            "drift-found",
            "Drift found",
            str(drift.found),
            f"numbers a provider held otherwise, last {days} days: "
            f"{_n(drift.opt_outs_sent, 'opt-out', 'opt-outs')} sent again, "
            f"{drift.reported} reported{resent}",
            "admin:subscriptions_drift_changelist",
            "subscriptions.view_drift",
        ),
    ]


def linked(tiles: list[Kpi], user) -> list[Kpi]:
    """The tiles with `url_name` turned into a URL where `user` may open that page, and
    emptied where not."""
    return [
        replace(k, url_name=reverse(k.url_name) if k.url_name and user.has_perm(k.perm) else "")
        for k in tiles
    ]
