"""Order per number under concurrency (PostgreSQL): 100 consent changes of two numbers made
at once from many threads, each delivered by the committing thread (the immediate task
backend) while others are in flight; the receiver sees each number's events exactly in
the order of its history."""

from concurrent.futures import ThreadPoolExecutor

import pytest
from django.db import connection

from subscriptions.consent import services
from subscriptions.consent.services import Context
from subscriptions.models import SubscriptionEvent, WebhookDelivery
from subscriptions.webhooks import service
from tests.factories import KeywordFactory, ShortCodeFactory
from tests.subscriptions.webhooks.conftest import OTHER, PHONE

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]
CHANGES = 100
THREADS = 25  # connections: the shared server allows 100 in all


def test_events_of_a_number_arrive_in_history_order_under_100_concurrent_changes(
    allow_private, receiver
):
    receiver.delay = 0.005  # widen the windows in which deliveries overlap
    service.create_endpoint(url=receiver.url + "/in", events=["consent.changed"])
    code = ShortCodeFactory(code="12345")
    keywords = [KeywordFactory(short_code=code, word=f"P{i}") for i in range(CHANGES // 2)]
    changes = [(phone, keyword) for keyword in keywords for phone in (PHONE, OTHER)]

    def change(item):
        phone, keyword = item
        try:
            services.opt_in(phone, keyword, Context(source="api"))
        finally:
            connection.close()

    with ThreadPoolExecutor(THREADS) as pool:
        list(pool.map(change, changes))

    assert WebhookDelivery.objects.count() == CHANGES
    assert set(WebhookDelivery.objects.values_list("status", flat=True)) == {"delivered"}
    for phone in (PHONE, OTHER):
        history = list(
            SubscriptionEvent.objects.filter(contact__phone=phone, outcome="applied")
            .order_by("id")
            .values_list("pk", flat=True)
        )
        received = [
            r.json["data"]["event_id"]
            for r in receiver.requests
            if r.json["data"]["phone"] == phone
        ]
        assert len(history) == CHANGES // 2
        assert received == history
