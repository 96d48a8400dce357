"""Postbacks arriving at the same moment (SkyCore retries overlap, several gunicorn workers):
applied once, one discovered program, on real PostgreSQL concurrency."""

import pytest

from subscriptions.inbound import postbacks
from subscriptions.models import Keyword, Outcome, ProviderKind, Subscription, SubscriptionEvent
from tests.concurrency import run_together
from tests.factories import ProviderAccountFactory, ShortCodeFactory
from tests.subscriptions.inbound.test_skycore_postbacks import postback_xml

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def account():
    account = ProviderAccountFactory(kind=ProviderKind.SKYCORE)
    ShortCodeFactory(code="123456", provider=account)
    return account


def apply(account, xml):
    return lambda: postbacks.apply_postback(account, postbacks.parse_postback(xml, xml.decode()))


def test_five_simultaneous_copies_of_one_postback_apply_once(account):
    xml = postback_xml()

    run_together(*[apply(account, xml) for _ in range(5)])

    assert SubscriptionEvent.objects.count() == 1
    assert SubscriptionEvent.objects.get().outcome == Outcome.APPLIED
    assert Keyword.objects.filter(provider_ref="1478").count() == 1


def test_simultaneous_postbacks_for_a_new_campaign_discover_it_once(account):
    phones = [f"1650555{1000 + n}" for n in range(4)]

    run_together(*[apply(account, postback_xml(mobile=phone)) for phone in phones])

    keyword = Keyword.objects.get(provider_ref="1478")
    assert keyword.discovered
    assert Subscription.objects.filter(keyword=keyword).count() == len(phones)
