"""The read side of reconciliation: how much drift the runs found in a period (the
dashboard's tile)."""

from dataclasses import dataclass
from datetime import datetime

from django.db.models import Count, Q

from subscriptions.models import Drift, DriftAction, Held


@dataclass(frozen=True)
class DriftNumbers:
    found: int  # a provider was read and held something else than the portal
    opt_outs_sent: int  # of those, opt-outs sent again (the provider had the number in)
    reported: int  # of those, shown to staff only (never an automatic opt-in)
    resent_unread: int  # opt-outs sent again to providers that cannot be read (WhatCounts...)


def drift_numbers(since: datetime, now: datetime) -> DriftNumbers:
    """Drift rows recorded from `since` up to `now`, by what was found and done."""
    read = ~Q(provider=Held.UNKNOWN)
    counts = Drift.objects.filter(created_at__gte=since, created_at__lte=now).aggregate(
        found=Count("id", filter=read),
        opt_outs_sent=Count("id", filter=read & Q(action=DriftAction.OPT_OUT_SENT)),
        reported=Count("id", filter=read & Q(action=DriftAction.REPORTED)),
        resent_unread=Count("id", filter=~read),
    )
    return DriftNumbers(**counts)
