"""events/ (cursor pagination, filters), syncs/, outbox/."""

from datetime import timedelta

import pytest
from django.utils import timezone

from subscriptions.consent import services
from subscriptions.consent.services import Context
from subscriptions.delivery import messages
from subscriptions.models import MessagePurpose, ProviderSync, SyncStatus
from tests.factories import ContactFactory, KeywordFactory, ProviderAccountFactory

pytestmark = pytest.mark.django_db


def join(keyword, phone, source="mo"):
    services.opt_in(phone, keyword, Context(source=source))


def test_events_pages_stay_stable_while_rows_are_inserted(reader, code):
    join_kw = code.keywords.get(word="JOIN")
    for i in range(7):
        join(join_kw, f"+1555555{1000 + i}")
    first = reader.get("/api/v1/events/", {"page_size": 3}).json()
    seen = [e["id"] for e in first["results"]]
    for i in range(5):  # new history arrives while the client pages
        join(join_kw, f"+1555555{2000 + i}")
    url = first["next"]
    while url:
        page = reader.get(url).json()
        seen += [e["id"] for e in page["results"]]
        url = page["next"]
    assert len(seen) == len(set(seen)) == 7
    assert seen == sorted(seen, reverse=True)


def test_events_fields_and_filters(reader, code):
    join_kw = code.keywords.get(word="JOIN")
    other = KeywordFactory(word="NEWS")
    join(join_kw, "15555551212", source="api")
    join(other, "15555551212")
    join(join_kw, "15555551213")

    def ids(**query):
        return [
            (e["phone"], e["short_code"], e["keyword"], e["source"])
            for e in reader.get("/api/v1/events/", query).json()["results"]
        ]

    assert ids(phone="15555551212", short_code="12345") == [
        ("+15555551212", "12345", "JOIN", "api")
    ]
    assert ids(keyword="news") == [("+15555551212", other.short_code.code, "NEWS", "mo")]
    assert len(ids(source="mo")) == 2
    assert ids(since=(timezone.now() + timedelta(hours=1)).isoformat()) == []
    event = reader.get("/api/v1/events/").json()["results"][0]
    assert set(event) >= {
        "id",
        "phone",
        "short_code",
        "keyword",
        "action",
        "old_status",
        "new_status",
        "source",
        "occurred_at",
        "recorded_at",
        "outcome",
    }


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ({"phone": "nope"}, "phone"),
        ({"source": "carrier"}, "source"),
        ({"since": "yesterday"}, "since"),
    ],
)
def test_events_bad_filters_are_400(reader, code, query, field):
    response = reader.get("/api/v1/events/", query)
    assert response.status_code == 400 and field in response.json()


def test_events_bad_cursor_is_404_json(reader, code):
    response = reader.get("/api/v1/events/", {"cursor": "garbage"})
    assert (response.status_code, response.json()["code"]) == (404, "not_found")


def test_syncs_filter_by_status_and_provider(reader, code):
    contact = ContactFactory()
    other = ProviderAccountFactory()
    done = ProviderSync.objects.create(
        contact=contact, short_code=code, provider=code.provider, status=SyncStatus.SUCCEEDED
    )
    ProviderSync.objects.create(contact=contact, short_code=code, provider=other)
    rows = reader.get("/api/v1/syncs/", {"status": "succeeded"}).json()["results"]
    assert [(r["id"], r["phone"], r["short_code"]) for r in rows] == [
        (done.pk, contact.phone, "12345")
    ]
    assert len(reader.get("/api/v1/syncs/", {"provider": other.pk}).json()["results"]) == 1
    assert reader.get("/api/v1/syncs/", {"status": "bogus"}).status_code == 400


def test_outbox_lists_console_texts_newest_first(reader, code, on_commit):
    with on_commit():
        messages.queue_text("+15555551212", code, "first", MessagePurpose.REPLY)
        messages.queue_text("+15555551212", code, "second", MessagePurpose.REPLY)
        messages.queue_text("+15555550000", code, "elsewhere", MessagePurpose.REPLY)
    texts = reader.get("/api/v1/outbox/", {"phone": "15555551212"}).json()
    assert [(t["phone"], t["short_code"], t["text"], t["status"]) for t in texts] == [
        ("+15555551212", "12345", "second", "sent"),
        ("+15555551212", "12345", "first", "sent"),
    ]
    assert all(t["sent_at"] for t in texts)
    assert len(reader.get("/api/v1/outbox/", {"limit": 1}).json()) == 1
    assert reader.get("/api/v1/outbox/", {"limit": 0}).status_code == 400
