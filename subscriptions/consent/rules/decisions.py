"""Consent decisions: (current state, action, source) -> decision. No database, no clock.

docs/rules.md is the table these functions implement; tests/subscriptions/consent/
test_rules.py walks it cell by cell.
"""

from dataclasses import dataclass
from datetime import datetime, timedelta

from subscriptions.models.choices import Outcome, Source, Status

IMPORT_OPTED_OUT = "opted out earlier; an import cannot opt back in"
IMPORT_STOPPED = "sent STOP on this code"
IMPORT_CANNOT_CONFIRM = "an import cannot confirm a pending subscription"
WINDOW_CLOSED = "confirmation window closed"
ALREADY_IN = "already opted in"
ALREADY_OUT = "already opted out"
STALE = "older than the last applied event"


@dataclass(frozen=True)
class Decision:
    outcome: str
    new_status: str | None = None
    reason: str = ""
    restarts_window: bool = False
    # A no_change that agrees with the current state still moves the subscription's
    # "as of" time forward, so a late-arriving older event cannot overturn it.
    confirms: bool = False

    @property
    def applied(self):
        return self.outcome == Outcome.APPLIED

    @property
    def clears_stop(self):
        """A confirmed opt-in lifts the number's STOP on the code; a pending one does not."""
        return self.applied and self.new_status == Status.OPTED_IN


def is_stale(occurred_at: datetime, last_occurred_at: datetime | None) -> bool:
    return last_occurred_at is not None and occurred_at < last_occurred_at


def decide_opt_in(
    current,
    *,
    source,
    double_opt_in,
    stopped=False,
    stop_blocks_imports=False,
    occurred_at=None,
    last_occurred_at=None,
):
    """Opt-in of one program keyword. `current` is None when no subscription exists."""
    if occurred_at is not None and is_stale(occurred_at, last_occurred_at):
        return Decision(Outcome.STALE, reason=STALE)
    if current == Status.OPTED_IN:
        return Decision(Outcome.NO_CHANGE, reason=ALREADY_IN, confirms=True)
    if source == Source.IMPORT:
        return _decide_import_opt_in(current, stopped, stop_blocks_imports)
    if source == Source.POSTBACK:
        # The provider already holds the subscription: no double opt-in to run here.
        return Decision(Outcome.APPLIED, Status.OPTED_IN)
    if double_opt_in:
        return Decision(Outcome.APPLIED, Status.PENDING, restarts_window=True)
    return Decision(Outcome.APPLIED, Status.OPTED_IN)


def _decide_import_opt_in(current, stopped, stop_blocks_imports):
    if current is None:
        if stopped and stop_blocks_imports:
            return Decision(Outcome.REFUSED, reason=IMPORT_STOPPED)
        return Decision(Outcome.APPLIED, Status.OPTED_IN)
    if current == Status.OPTED_OUT:
        return Decision(Outcome.REFUSED, reason=IMPORT_OPTED_OUT)
    return Decision(Outcome.NO_CHANGE, reason=IMPORT_CANNOT_CONFIRM)


# Sources that carry their own time (docs/rules.md "Order and duplicates"); every other
# source's events occur "now".
TIMED_SOURCES = frozenset({Source.IMPORT, Source.POSTBACK})


def decide_opt_out(current, *, occurred_at=None, last_occurred_at=None, source=None):
    """Opt-out of one program keyword: never refused. A row is created even from "none",
    because an opted_out row is what protects the number against a later import.

    An opt-out from a live source (web, api, mo, admin, system: it occurs "now") is never
    stale: whatever time a stored event carries (an import or postback stamped ahead of
    the portal's clock), the person's own "stop" of now wins. Only the timed sources
    (imports, postbacks) are ordered by their own times against each other."""
    timed = source is None or source in TIMED_SOURCES
    if timed and occurred_at is not None and is_stale(occurred_at, last_occurred_at):
        return Decision(Outcome.STALE, reason=STALE)
    if current == Status.OPTED_OUT:
        return Decision(Outcome.NO_CHANGE, reason=ALREADY_OUT, confirms=True)
    return Decision(Outcome.APPLIED, Status.OPTED_OUT)


def in_window(pending_since: datetime | None, window_hours: int, now: datetime) -> bool:
    return pending_since is not None and now <= pending_since + timedelta(hours=window_hours)


def decide_confirm(
    current, *, pending_since, window_hours, now, occurred_at=None, last_occurred_at=None
):
    """The confirmation word (or YES / Y) for one subscription on the code."""
    if occurred_at is not None and is_stale(occurred_at, last_occurred_at):
        return Decision(Outcome.STALE, reason=STALE)
    if current != Status.PENDING:
        return Decision(Outcome.NO_CHANGE)
    if not in_window(pending_since, window_hours, now):
        return Decision(Outcome.REFUSED, reason=WINDOW_CLOSED)
    return Decision(Outcome.APPLIED, Status.OPTED_IN)


def decide_restore(current, *, occurred_at=None, last_occurred_at=None):
    """START / UNSTOP: a program that the last STOP opted out comes back in."""
    if occurred_at is not None and is_stale(occurred_at, last_occurred_at):
        return Decision(Outcome.STALE, reason=STALE)
    if current == Status.OPTED_OUT:
        return Decision(Outcome.APPLIED, Status.OPTED_IN)
    return Decision(Outcome.NO_CHANGE)


REVIEW = "review"


def best_reason(statuses, stopped: bool, review: bool = False) -> str:
    """The sendable reason for a set of subscription statuses (docs/rules.md "Sendable"): a
    STOP first, then a revocation under review (the number is paused on the code until
    staff decide), then the best subscription status."""
    if stopped:
        return "stopped"
    if review:
        return REVIEW
    for status in (Status.OPTED_IN, Status.PENDING, Status.OPTED_OUT):
        if status in statuses:
            return str(status)
    return "no_subscription"


def opt_in_floor(subscription, stop):
    """The time an opt-in must not predate: the subscription's last applied event and the
    newest STOP on the code (consent given before a STOP is revoked by it)."""
    times = [
        t for t in (subscription and subscription.last_occurred_at, stop and stop.latest_at) if t
    ]
    return max(times) if times else None
