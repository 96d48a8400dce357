"""Times from outside: parsed, in UTC, between the documented floor and the allowed skew."""

from datetime import UTC, datetime, timedelta, timezone

import pytest

from subscriptions.common import times

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    "text",
    [
        "0001-01-01T00:00:00+14:00",  # PostgreSQL keeps it; Python cannot read it back
        "9999-12-31T23:59:59-14:00",
        "1999-12-31T23:59:59Z",
        "2026-06-01T12:11:00Z",  # beyond the skew
        "2100-01-01T00:00:00Z",
        "2020-01-01T00:00:00+99:00",  # no such offset
        "2020-13-01T00:00:00Z",
        "yesterday",
        "2020-01-01T00:00:00" + "0" * 100,
        "",
    ],
)
def test_out_of_range_or_unreadable_times_are_refused(text):
    with pytest.raises(times.BadTime):
        times.parse(text, now=NOW)


def test_old_but_real_times_are_converted_to_utc():
    # The seed postbacks are dated 2014 and must still apply.
    assert times.parse("2014-07-02T14:32:23-04", now=NOW) == datetime(
        2014, 7, 2, 18, 32, 23, tzinfo=UTC
    )
    assert times.parse("2026-06-01T12:05:00Z", now=NOW).tzinfo is UTC


def test_a_naive_time_is_utc_unless_an_offset_is_required():
    assert times.parse("2020-01-01 10:00", now=NOW) == datetime(2020, 1, 1, 10, tzinfo=UTC)
    with pytest.raises(times.BadTime, match="no UTC offset"):
        times.parse("2020-01-01 10:00", assume_utc=False, now=NOW)


def test_check_refuses_a_parsed_datetime_that_overflows_in_utc():
    extreme = datetime(9999, 12, 31, 23, 0, tzinfo=timezone(timedelta(hours=-14)))
    with pytest.raises(times.BadTime):
        times.check(extreme, now=NOW)
