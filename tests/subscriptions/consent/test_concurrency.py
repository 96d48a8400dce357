"""Two writers on one subscription at once, on PostgreSQL with real connections."""

from datetime import timedelta

import pytest
from django.utils import timezone

from subscriptions.consent import services
from subscriptions.consent.services import Context
from subscriptions.models import Source, Status, Subscription, SubscriptionEvent
from tests.concurrency import run_together
from tests.factories import KeywordFactory

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]
PHONE = "+15555551212"


@pytest.mark.parametrize("newer_first", [True, False])
def test_concurrent_changes_end_with_the_later_event_and_keep_both(newer_first):
    keyword = KeywordFactory()
    services.opt_in(
        PHONE, keyword, Context(source=Source.MO, occurred_at=timezone.now() - timedelta(hours=1))
    )
    base = timezone.now()
    older_in = lambda: services.opt_in(  # noqa: E731
        PHONE, keyword, Context(source=Source.POSTBACK, occurred_at=base)
    )
    newer_out = lambda: services.opt_out(  # noqa: E731
        PHONE, keyword, Context(source=Source.POSTBACK, occurred_at=base + timedelta(seconds=1))
    )
    run_together(*((newer_out, older_in) if newer_first else (older_in, newer_out)))

    assert Subscription.objects.get(keyword=keyword).status == Status.OPTED_OUT
    events = SubscriptionEvent.objects.filter(source=Source.POSTBACK).order_by("occurred_at")
    assert [e.occurred_at for e in events] == [base, base + timedelta(seconds=1)]
    assert events.count() == 2


def test_many_concurrent_toggles_serialise_on_the_contact_row():
    keyword = KeywordFactory()
    services.opt_in(PHONE, keyword, Context(source=Source.MO))
    base = timezone.now()
    calls = []
    for i in range(8):
        ctx = Context(source=Source.API, occurred_at=base + timedelta(milliseconds=i))
        service = services.opt_out if i % 2 == 0 else services.opt_in
        calls.append(lambda s=service, c=ctx: s(PHONE, keyword, c))
    run_together(*calls)
    # Every call wrote exactly one history row, one after the other on the contact's lock.
    # A live opt-out is never stale (consent errs toward the opt-out), so the order the
    # writers took the lock decides: the subscription ends in the state of the last applied
    # history row, whichever that was.
    events = SubscriptionEvent.objects.filter(source=Source.API).order_by("id")
    assert events.count() == 8
    last_applied = events.filter(outcome="applied").last()
    assert Subscription.objects.get(keyword=keyword).status == last_applied.new_status
