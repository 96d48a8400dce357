import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from subscriptions.consent import batch, selectors, services
from subscriptions.consent.batch import BatchRow
from subscriptions.consent.services import Context
from subscriptions.models import Contact, Keyword, Source, Status, Subscription
from tests.factories import KeywordFactory

pytestmark = pytest.mark.django_db


def test_sendable_reasons_for_every_state(code):
    deals = KeywordFactory(short_code=code, word="DEALS")
    vip = KeywordFactory(short_code=code, word="VIP", double_opt_in=True)
    services.opt_in("+15555550001", deals, Context(source=Source.MO))
    services.opt_in("+15555550002", vip, Context(source=Source.MO))
    services.opt_out("+15555550003", deals, Context(source=Source.MO))
    services.stop_all("+15555550004", code, Context(source=Source.MO))
    answers = selectors.sendable_many(
        ["5555550001", "15555550002", "+15555550003", "(555) 555-0004", "+15555550005"], code
    )
    assert [(a.phone, a.sendable, a.reason) for a in answers] == [
        ("+15555550001", True, "opted_in"),
        ("+15555550002", False, "pending"),
        ("+15555550003", False, "opted_out"),
        ("+15555550004", False, "stopped"),
        ("+15555550005", False, "no_subscription"),
    ]
    assert selectors.sendable("+15555550001", code, vip).reason == "no_subscription"


def test_an_unparseable_number_is_answered_on_its_own_and_its_neighbours_as_usual(code):
    KeywordFactory(short_code=code, word="DEALS")
    answers = selectors.sendable_many(["call me", "+15555550001"], code)
    assert [(a.phone, a.sendable, a.reason) for a in answers] == [
        ("call me", False, "invalid"),
        ("+15555550001", False, "no_subscription"),
    ]


def test_batch_sendable_answers_ten_thousand_numbers_in_constant_queries(
    code, django_assert_num_queries
):
    keyword = KeywordFactory(short_code=code, word="DEALS")
    phones = [f"+1555{n:07d}" for n in range(10_000)]
    rows = [BatchRow(phone=p, keyword=keyword, subscribe=True) for p in phones[::2]]
    batch.apply_batch(rows, Context(source=Source.IMPORT))
    for phone in phones[1:40:2]:
        services.opt_out(phone, keyword, Context(source=Source.API))

    with CaptureQueriesContext(connection) as queries:
        answers = selectors.sendable_many(phones, code, keyword)
    # One lookup; on PostgreSQL a batch past JIT_SAFE_NUMBERS also sets JIT off for itself
    # (SET LOCAL, inside a transaction: here the test's, hence a savepoint, not counted).
    statements = [q["sql"] for q in queries if not q["sql"].startswith(("SAVEPOINT", "RELEASE"))]
    assert len(statements) == (2 if connection.vendor == "postgresql" else 1), statements
    with django_assert_num_queries(1):
        selectors.sendable_many(phones[:10], code, keyword)
    assert len(answers) == 10_000
    assert [a.reason for a in answers[:4]] == ["opted_in", "opted_out", "opted_in", "opted_out"]
    assert sum(a.sendable for a in answers) == 5_000
    assert answers[-1].reason == "no_subscription"


def test_program_lookup_is_case_insensitive_and_only_programs(code):
    KeywordFactory(short_code=code, word="DEALS")
    KeywordFactory(short_code=code, word="Y", kind="confirm")
    assert selectors.program(code, " deals ").word == "DEALS"
    with pytest.raises(Keyword.DoesNotExist):
        selectors.program(code, "y")


def test_contact_subscriptions_stops_and_history(code):
    deals = KeywordFactory(short_code=code, word="DEALS")
    other = KeywordFactory(word="NEWS")
    services.opt_in("+15555550001", deals, Context(source=Source.WEB))
    services.opt_in("+15555550001", other, Context(source=Source.WEB))
    services.stop_all("+15555550001", code, Context(source=Source.MO))
    contact = selectors.contact_by_phone("5555550001")
    assert isinstance(contact, Contact)
    assert [(s.keyword.word, s.status) for s in selectors.subscriptions_of(contact)] == [
        ("DEALS", Status.OPTED_OUT),
        ("NEWS", Status.OPTED_IN),
    ]
    assert [s.short_code.code for s in selectors.active_stops_of(contact)] == ["12345"]
    history = selectors.history(phone="5555550001", short_code="12345")
    assert [(e.action, e.keyword and e.keyword.word) for e in history] == [
        ("stop_all", "DEALS"),
        ("stop_all", None),
        ("opt_in", "DEALS"),
    ]
    assert list(selectors.history(phone="+15555550001", source="mo", keyword="deals")) == [
        history[0]
    ]
    assert selectors.contact_by_phone("+15555550099") is None
    assert Subscription.objects.count() == 2
