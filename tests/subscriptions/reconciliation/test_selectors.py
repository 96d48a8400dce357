"""reconciliation/selectors.py: the drift a period holds, by what was found and done."""

from datetime import timedelta

import pytest
from django.utils import timezone

from subscriptions.models import Contact, Drift, DriftAction, Held, Reconciliation
from subscriptions.reconciliation.selectors import DriftNumbers, drift_numbers

pytestmark = pytest.mark.django_db


def drift(run, contact, provider, action, at):
    return Drift.objects.create(
        reconciliation=run,
        contact=contact,
        short_code=run.short_code,
        portal=Held.OUT,
        provider=provider,
        action=action,
        created_at=at,
    )


def test_drift_found_counts_read_disagreements_apart_from_blind_resends(code):
    now = timezone.now()
    run = Reconciliation.objects.create(provider=code.provider, short_code=code)
    contact = Contact.objects.create(phone="+15555550100")
    drift(run, contact, Held.IN, DriftAction.OPT_OUT_SENT, now - timedelta(days=1))
    drift(run, contact, Held.IN, DriftAction.REPORTED, now - timedelta(days=2))
    drift(run, contact, Held.UNKNOWN, DriftAction.OPT_OUT_SENT, now - timedelta(days=3))
    drift(run, contact, Held.IN, DriftAction.OPT_OUT_SENT, now - timedelta(days=40))  # before
    assert drift_numbers(now - timedelta(days=30), now) == DriftNumbers(
        found=2, opt_outs_sent=1, reported=1, resent_unread=1
    )
    assert drift_numbers(now - timedelta(hours=1), now) == DriftNumbers(0, 0, 0, 0)
