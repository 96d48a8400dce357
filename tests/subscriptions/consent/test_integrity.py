"""Issue 16: no stored event makes a later opt-out stale, refused or failing."""

from datetime import timedelta

import pytest
from django.utils import timezone

from subscriptions.consent import batch, selectors, services
from subscriptions.consent.batch import BatchRow
from subscriptions.consent.services import Context
from subscriptions.models import Outcome, Source, Status, Subscription
from tests.factories import KeywordFactory, ShortCodeFactory

pytestmark = pytest.mark.django_db
PHONE = "+15555551212"


@pytest.fixture
def deals():
    return KeywordFactory(short_code=ShortCodeFactory(code="12345"), word="DEALS")


def far_future_import(keyword):
    """An import row stamped years ahead (stored before the range check existed)."""
    row = BatchRow(
        phone=PHONE,
        keyword=keyword,
        subscribe=True,
        occurred_at=timezone.now() + timedelta(days=3650),
    )
    batch.apply_batch([row], Context(source=Source.IMPORT))
    assert Subscription.objects.get().status == Status.OPTED_IN


@pytest.mark.parametrize("source", [Source.WEB, Source.API, Source.ADMIN, Source.SYSTEM])
def test_a_live_opt_out_after_a_far_future_import_applies(deals, source):
    far_future_import(deals)

    result = services.opt_out(PHONE, deals, Context(source=source, reason="asked by phone"))

    assert result.outcome == Outcome.APPLIED
    assert Subscription.objects.get().status == Status.OPTED_OUT
    assert not selectors.sendable(PHONE, deals.short_code, deals).sendable


def test_a_stop_after_a_far_future_import_leaves_the_number_unsendable(deals):
    far_future_import(deals)

    result = services.stop_all(PHONE, deals.short_code, Context(source=Source.MO))

    assert [e.outcome for e in result.changed] == [Outcome.APPLIED]
    assert Subscription.objects.get().status == Status.OPTED_OUT
    assert not selectors.sendable(PHONE, deals.short_code).sendable


def test_a_timed_opt_out_older_than_the_last_applied_event_is_still_stale(deals):
    # Imports and postbacks keep their own order: a real older opt-out is not applied.
    services.opt_in(PHONE, deals, Context(source=Source.POSTBACK))
    result = services.opt_out(
        PHONE,
        deals,
        Context(source=Source.POSTBACK, occurred_at=timezone.now() - timedelta(days=1)),
    )
    assert result.outcome == Outcome.STALE
