"""The deadline of a revocation: 10 US business days (47 CFR 64.1200(a)(10)). Pure.

Business days are Monday to Friday except US federal holidays, from the `holidays`
library (its "US" calendar without a state is the federal one; observed days included).
The day of receipt does not count; the deadline keeps the time of day of receipt.
"""

import functools
from datetime import date, datetime, timedelta

import holidays

REVOCATION_BUSINESS_DAYS = 10


@functools.cache
def _federal_holidays(year: int) -> frozenset[date]:
    # Building a year's calendar costs about a millisecond; every revocation asks for it.
    return frozenset(holidays.country_holidays("US", years=year))


def is_business_day(day: date) -> bool:
    return day.weekday() < 5 and day not in _federal_holidays(day.year)


def add_business_days(start: date, days: int) -> date:
    day = start
    while days > 0:
        day += timedelta(days=1)
        if is_business_day(day):
            days -= 1
    return day


def due_by(received_at: datetime, days: int = REVOCATION_BUSINESS_DAYS) -> datetime:
    """`received_at` plus `days` US business days, at the same time of day."""
    last = add_business_days(received_at.date(), days)
    return received_at + timedelta(days=(last - received_at.date()).days)
