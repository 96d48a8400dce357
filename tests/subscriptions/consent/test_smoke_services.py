import pytest

from subscriptions.consent import selectors, services
from subscriptions.consent.services import Context
from subscriptions.models import Outcome, Status, SubscriptionEvent
from tests.factories import KeywordFactory

pytestmark = pytest.mark.django_db


def test_opt_in_then_stop_then_start_restores_exactly_the_stopped_programs():
    deals = KeywordFactory(word="DEALS")
    news = KeywordFactory(word="NEWS", short_code=deals.short_code)
    code = deals.short_code
    services.opt_in("15555551212", deals, Context(source="mo"))
    services.opt_in("15555551212", news, Context(source="mo"))
    services.opt_out("15555551212", news, Context(source="web"))

    stopped = services.stop_all("+15555551212", code, Context(source="mo"))
    assert [(e.keyword.word, e.new_status) for e in stopped.changed] == [("DEALS", "opted_out")]
    assert selectors.sendable("+15555551212", code).reason == "stopped"

    services.restart("+15555551212", code, Context(source="mo"))
    answer = selectors.sendable("+15555551212", code, news)
    assert (answer.sendable, answer.reason) == (False, Status.OPTED_OUT)
    assert selectors.sendable("+15555551212", code, deals).sendable is True
    assert SubscriptionEvent.objects.filter(outcome=Outcome.APPLIED).count() == 7
