"""The consent.changed receiver, as a set-based import calls it: one chunk's applied events
as a lazy QuerySet (imports/setbased.py)."""

import pytest

from subscriptions.consent import services
from subscriptions.consent.services import Context
from subscriptions.models import Source, WebhookDelivery, WebhookEvent
from subscriptions.webhooks import receivers
from tests.factories import KeywordFactory
from tests.subscriptions.conftest import announce_history_as_an_import_chunk

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("numbers", [3, 12])
def test_a_chunk_costs_the_same_queries_whatever_its_size(endpoint, monkeypatch, numbers):
    monkeypatch.setattr(receivers, "IMPORT_BATCH", 5)
    keyword = KeywordFactory()
    phones = [f"+1555555{n:04d}" for n in range(numbers)]
    for phone in phones:
        services.opt_in(phone, keyword, Context(source=Source.API))
    WebhookEvent.objects.all().delete()  # the services' own, not the announcement's

    queries = announce_history_as_an_import_chunk()

    events = list(WebhookEvent.objects.order_by("pk"))
    assert [e.phone for e in events] == phones  # history order, every number
    first = events[0].payload["data"]
    assert (first["short_code"], first["keyword"], first["action"]) == (
        keyword.short_code.code,
        keyword.word,
        "opt_in",
    )
    assert WebhookDelivery.objects.count() == numbers
    batches = -(-numbers // 5)
    # the metrics tally (1), then per batch of 5: the events with their number, code and
    # program (the iterator reads them all in one query), the events' and deliveries'
    # INSERTs
    assert queries == 1 + 1 + 2 * batches
