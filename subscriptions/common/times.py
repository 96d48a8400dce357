"""Times that come from outside the portal (import `occurred_at`, SkyCore `TIMESTAMP`, API
`occurred_at` and `received_at`): parsed, converted to UTC and range-checked before
anything is stored.

The range is documented in docs/rules.md ("Order and duplicates"):

- the floor is EARLIEST (2000-01-01 UTC): SMS consent older than that is not real, and a
  time near year 1 with an extreme UTC offset is one that PostgreSQL stores but Python
  cannot read back (the row then breaks every page and opt-out that reads it);
- the ceiling is "now" plus CLOCK_SKEW: a source's clock a little ahead is not the future,
  but a far-future time would make every later event of the number look stale.

Every entry point uses `parse` (text) or `check` (a datetime already parsed), so imports,
postbacks and the API agree on what a valid time is.
"""

from datetime import UTC, datetime, timedelta

from django.utils import timezone
from django.utils.dateparse import parse_datetime

from subscriptions.common.errors import PortalError

EARLIEST = datetime(2000, 1, 1, tzinfo=UTC)
CLOCK_SKEW = timedelta(minutes=10)
MAX_TEXT = 64  # an ISO 8601 time is ~32 characters


class BadTime(PortalError, ValueError):
    """The text is not a usable time; the message says why (shown to the client)."""


def parse(text, *, assume_utc=True, now=None) -> datetime:
    """ISO 8601 text as an aware UTC datetime inside the allowed range, or BadTime.

    A time without a UTC offset is read as UTC when `assume_utc`, refused otherwise.
    """
    text = str(text or "").strip()
    if not text:
        raise BadTime("A time is required.")
    if len(text) > MAX_TEXT:
        raise BadTime("That is too long to be an ISO 8601 time.")
    try:
        value = parse_datetime(text.replace("z", "Z"))
    except (ValueError, OverflowError) as exc:
        raise BadTime(f"{text!r} is not a valid ISO 8601 time ({exc}).") from None
    if value is None:
        raise BadTime(f"{text!r} is not an ISO 8601 date and time.")
    if value.tzinfo is None:
        if not assume_utc:
            raise BadTime(f"{text!r} has no UTC offset.")
        value = value.replace(tzinfo=UTC)
    return check(value, now=now, shown=text)


def check(value: datetime, *, now=None, shown=None) -> datetime:
    """`value` (aware) converted to UTC, if it lies between EARLIEST and now + CLOCK_SKEW.
    `shown` is the text the value was read from, for the messages (repr'd there only:
    imports check a million of these)."""

    def named():
        return repr(shown) if shown is not None else value.isoformat()

    if timezone.is_naive(value):
        raise BadTime(f"{named()} has no UTC offset.")
    try:
        utc = value.astimezone(UTC)
    except (OverflowError, ValueError):
        raise BadTime(f"{named()} is outside the range of times the portal accepts.") from None
    if utc < EARLIEST:
        raise BadTime(f"{named()} is before {EARLIEST.date().isoformat()}.")
    if utc > (now or timezone.now()) + CLOCK_SKEW:
        raise BadTime(f"{named()} is in the future.")
    return utc
