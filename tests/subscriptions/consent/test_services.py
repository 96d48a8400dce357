from datetime import timedelta

import pytest
from django.utils import timezone

from subscriptions.consent import batch, selectors, services
from subscriptions.consent.batch import BatchRow
from subscriptions.consent.services import Context, ServiceError
from subscriptions.consent.signals import subscription_changed
from subscriptions.models import (
    Action,
    Contact,
    InboundReceipt,
    KeywordKind,
    ProviderKind,
    ShortCodeStop,
    Source,
    Status,
    Subscription,
    SubscriptionEvent,
)
from tests.factories import KeywordFactory, ProviderAccountFactory, UserFactory

pytestmark = pytest.mark.django_db
PHONE = "+15555551212"


def status(keyword, phone=PHONE):
    return Subscription.objects.get(contact__phone=phone, keyword=keyword).status


@pytest.fixture
def vip(code):
    return KeywordFactory(short_code=code, word="VIP", double_opt_in=True)


@pytest.fixture
def signals_seen():
    seen = []

    def receiver(sender, events, source, **kwargs):
        seen.append(
            (source, [(e.action, e.keyword and e.keyword.word, e.new_status) for e in events])
        )

    subscription_changed.connect(receiver)
    yield seen
    subscription_changed.disconnect(receiver)


def test_opt_in_accepts_seed_phone_formats_and_records_evidence(deals):
    user = UserFactory(username="integration")
    ctx = Context(
        source=Source.API,
        actor=user,
        consent_text="Yes, text me deals",
        ip_address="203.0.113.9",
        user_agent="curl/8",
    )
    result = services.opt_in("15555551212", deals, ctx)
    assert [(e.new_status, e.outcome) for e in result.events] == [("opted_in", "applied")]
    event = SubscriptionEvent.objects.get()
    assert (event.contact.phone, event.source, event.actor, event.actor_label) == (
        PHONE,
        "api",
        user,
        "integration",
    )
    assert (event.consent_text, event.ip_address, event.user_agent) == (
        "Yes, text me deals",
        "203.0.113.9",
        "curl/8",
    )
    assert event.old_status == "" and event.recorded_at >= event.occurred_at


def test_a_contacts_language_is_recorded_and_nobody_is_created_for_it(deals):
    services.opt_in(PHONE, deals, Context(source=Source.MO))
    services.set_contact_locale("(555) 555-1212", "es")
    services.set_contact_locale("+15555550999", "es")  # unknown: stays unknown
    assert list(Contact.objects.values_list("phone", "locale")) == [(PHONE, "es")]
    with pytest.raises(ServiceError):
        services.set_contact_locale(PHONE, "xx")
    assert Contact.objects.get().locale == "es"


def test_double_opt_in_goes_pending_then_confirm_opts_in(vip, code):
    services.opt_in(PHONE, vip, Context(source=Source.WEB))
    assert status(vip) == Status.PENDING
    assert selectors.sendable(PHONE, code, vip).reason == "pending"
    result = services.confirm(PHONE, code, Context(source=Source.MO))
    assert [(e.action, e.new_status) for e in result.applied] == [("confirm", "opted_in")]
    assert selectors.sendable(PHONE, code, vip).sendable


def test_confirm_after_the_window_keeps_pending_and_records_the_refusal(vip, code):
    services.opt_in(PHONE, vip, Context(source=Source.MO))
    Subscription.objects.filter(keyword=vip).update(
        pending_since=timezone.now() - timedelta(hours=code.double_opt_in_window_hours + 1)
    )
    result = services.confirm(PHONE, code, Context(source=Source.MO))
    assert [(e.outcome, e.reason) for e in result.events] == [
        ("refused", "confirmation window closed")
    ]
    assert status(vip) == Status.PENDING
    assert not services.pending_in_window(PHONE, code)


def test_opt_out_of_a_program_never_joined_creates_a_protecting_row(deals):
    services.opt_out(PHONE, deals, Context(source=Source.WEB))
    assert status(deals) == Status.OPTED_OUT
    rows = [BatchRow(phone=PHONE, keyword=deals, subscribe=True)]
    result = batch.apply_batch(rows, Context(source=Source.IMPORT))
    assert [(e.outcome, e.reason) for e in result.events] == [
        ("refused", "opted out earlier; an import cannot opt back in")
    ]
    assert status(deals) == Status.OPTED_OUT


def test_stop_opts_out_every_program_of_every_account_and_records_a_stop(code, deals, news):
    other_account = ProviderAccountFactory()
    partner = KeywordFactory(short_code=code, word="PARTNER", provider=other_account)
    for keyword in (deals, news, partner):
        services.opt_in(PHONE, keyword, Context(source=Source.MO))
    result = services.stop_all(PHONE, code, Context(source=Source.MO))
    assert sorted(e.keyword.word for e in result.changed) == ["DEALS", "NEWS", "PARTNER"]
    assert {status(k) for k in (deals, news, partner)} == {Status.OPTED_OUT}
    assert ShortCodeStop.objects.filter(contact__phone=PHONE, cleared_at__isnull=True).count() == 1


def test_stop_from_a_number_with_no_subscription_still_records_the_stop(code):
    result = services.stop_all("5555550000", code, Context(source=Source.MO))
    assert [(e.action, e.keyword, e.outcome) for e in result.events] == [
        ("stop_all", None, "applied")
    ]
    assert selectors.sendable("+15555550000", code).reason == "stopped"


def test_second_stop_is_recorded_without_a_second_active_stop(code, deals):
    services.opt_in(PHONE, deals, Context(source=Source.MO))
    services.stop_all(PHONE, code, Context(source=Source.MO))
    again = services.stop_all(PHONE, code, Context(source=Source.MO))
    assert [e.outcome for e in again.events] == ["no_change"]
    assert ShortCodeStop.objects.count() == 1


def test_custom_stop_leaves_other_accounts_programs_alone(code, deals):
    other_account = ProviderAccountFactory(kind=ProviderKind.SFMC)
    partner = KeywordFactory(short_code=code, word="PARTNER", provider=other_account)
    stop1 = KeywordFactory(
        short_code=code, word="STOP1", kind=KeywordKind.STOP, provider=other_account
    )
    services.opt_in(PHONE, deals, Context(source=Source.MO))
    services.opt_in(PHONE, partner, Context(source=Source.MO))
    result = services.custom_stop(PHONE, stop1, Context(source=Source.MO))
    assert [e.keyword.word for e in result.changed] == ["PARTNER"]
    assert (status(deals), status(partner)) == (Status.OPTED_IN, Status.OPTED_OUT)
    assert not ShortCodeStop.objects.exists()


def test_any_confirmed_opt_in_clears_the_stop_but_stopped_programs_stay_out(code, deals, news):
    services.opt_in(PHONE, deals, Context(source=Source.MO))
    services.stop_all(PHONE, code, Context(source=Source.MO))
    services.opt_in(PHONE, news, Context(source=Source.WEB))
    assert not ShortCodeStop.objects.filter(cleared_at__isnull=True).exists()
    assert (status(deals), status(news)) == (Status.OPTED_OUT, Status.OPTED_IN)
    assert selectors.sendable(PHONE, code).sendable


def test_pending_opt_in_does_not_lift_a_stop(code, vip):
    services.stop_all(PHONE, code, Context(source=Source.MO))
    services.opt_in(PHONE, vip, Context(source=Source.WEB))
    assert selectors.sendable(PHONE, code).reason == "stopped"
    services.confirm(PHONE, code, Context(source=Source.MO))
    assert selectors.sendable(PHONE, code, vip).sendable


def test_restart_restores_exactly_the_programs_the_stop_removed(code, deals, news):
    services.opt_in(PHONE, deals, Context(source=Source.MO))
    services.opt_in(PHONE, news, Context(source=Source.MO))
    services.opt_out(PHONE, news, Context(source=Source.WEB))
    services.stop_all(PHONE, code, Context(source=Source.MO))
    result = services.restart(PHONE, code, Context(source=Source.MO))
    assert [(e.keyword and e.keyword.word, e.action, e.outcome) for e in result.events] == [
        (None, "restart", "applied"),
        ("DEALS", "restart", "applied"),
    ]
    assert (status(deals), status(news)) == (Status.OPTED_IN, Status.OPTED_OUT)


def test_restart_without_a_stop_changes_nothing(code, deals):
    result = services.restart(PHONE, code, Context(source=Source.MO))
    assert [(e.outcome, e.reason) for e in result.events] == [("no_change", "no STOP to lift")]


def test_an_older_opt_in_arriving_after_a_stop_is_stale(code, deals):
    now = timezone.now()
    services.stop_all(PHONE, code, Context(source=Source.MO, occurred_at=now))
    late = services.opt_in(
        PHONE, deals, Context(source=Source.POSTBACK, occurred_at=now - timedelta(minutes=5))
    )
    assert [e.outcome for e in late.events] == ["stale"]
    assert selectors.sendable(PHONE, code).reason == "stopped"


def test_an_older_postback_after_a_newer_one_is_stale(deals):
    now = timezone.now()
    services.opt_out(PHONE, deals, Context(source=Source.POSTBACK, occurred_at=now))
    late = services.opt_in(
        PHONE, deals, Context(source=Source.POSTBACK, occurred_at=now - timedelta(hours=1))
    )
    assert [e.outcome for e in late.events] == ["stale"]
    assert status(deals) == Status.OPTED_OUT


def test_a_repeated_external_id_applies_once_and_adds_no_history(deals):
    ctx = dict(source=Source.MO, external_id="mo-1")
    first = services.opt_in(PHONE, deals, Context(**ctx))
    second = services.opt_in(PHONE, deals, Context(**ctx))
    assert (first.duplicate, second.duplicate) == (False, True)
    assert SubscriptionEvent.objects.count() == 1
    assert InboundReceipt.objects.get().repeats == 1


def test_admin_changes_need_a_reason():
    with pytest.raises(ServiceError, match="reason"):
        Context(source=Source.ADMIN)


def test_only_program_keywords_can_be_joined(code):
    confirm_word = KeywordFactory(short_code=code, word="Y", kind=KeywordKind.CONFIRM)
    with pytest.raises(ServiceError):
        services.opt_in(PHONE, confirm_word, Context(source=Source.API))
    assert not SubscriptionEvent.objects.exists()


def test_signal_carries_the_applied_events_once_per_call(code, deals, news, signals_seen):
    services.opt_in(PHONE, deals, Context(source=Source.MO))
    services.opt_in(PHONE, deals, Context(source=Source.MO))  # no_change: no signal
    services.opt_in(PHONE, news, Context(source=Source.MO))
    services.stop_all(PHONE, code, Context(source=Source.MO))
    assert signals_seen == [
        ("mo", [("opt_in", "DEALS", "opted_in")]),
        ("mo", [("opt_in", "NEWS", "opted_in")]),
        (
            "mo",
            [
                ("stop_all", None, ""),
                ("stop_all", "DEALS", "opted_out"),
                ("stop_all", "NEWS", "opted_out"),
            ],
        ),
    ]


def test_record_keeps_unmatched_text_as_evidence(code):
    services.record(PHONE, code, Action.NONE, Context(source=Source.MO, raw_payload="hello?"))
    event = SubscriptionEvent.objects.get()
    assert (event.action, event.outcome, event.raw_payload) == ("none", "no_change", "hello?")


# Import batch (seed 001) ------------------------------------------------------------------


def test_batch_follows_seed_001_example(code):
    """12345678900 STOPs on 12345 with JOIN and TEST; an import to those keeps them out, an
    import to NEWKEYWORD opts in."""
    join, test_kw, new = (
        KeywordFactory(short_code=code, word=w) for w in ("JOIN", "TEST", "NEWKEYWORD")
    )
    phone = "+12345678900"
    for keyword in (join, test_kw):
        services.opt_in(phone, keyword, Context(source=Source.MO))
    services.stop_all(phone, code, Context(source=Source.MO))
    rows = [
        BatchRow(phone=phone, keyword=k, subscribe=True, line=i)
        for i, k in enumerate((join, test_kw, new), start=2)
    ]
    result = batch.apply_batch(rows, Context(source=Source.IMPORT, detail={"file": "a.csv"}))
    assert [(e.keyword.word, e.outcome) for e in result.events] == [
        ("JOIN", "refused"),
        ("TEST", "refused"),
        ("NEWKEYWORD", "applied"),
    ]
    assert [e.detail for e in result.events] == [{"file": "a.csv", "line": n} for n in (2, 3, 4)]
    assert selectors.sendable(phone, code, new).sendable


def test_batch_with_stop_blocking_policy_refuses_new_keywords(code):
    code.stop_blocks_imports = True
    code.save()
    new = KeywordFactory(short_code=code, word="NEWKEYWORD")
    services.stop_all(PHONE, code, Context(source=Source.MO))
    result = batch.apply_batch(
        [BatchRow(phone=PHONE, keyword=new, subscribe=True)], Context(source=Source.IMPORT)
    )
    assert [(e.outcome, e.reason) for e in result.events] == [("refused", "sent STOP on this code")]
    assert not Subscription.objects.filter(keyword=new).exists()


def test_batch_unsubscribe_then_active_leaves_the_number_opted_out(deals):
    """Seed 001: importing Unsubscribe then Active keeps the subscription opted out."""
    services.opt_in(PHONE, deals, Context(source=Source.MO))
    rows = [
        BatchRow(phone=PHONE, keyword=deals, subscribe=False),
        BatchRow(phone=PHONE, keyword=deals, subscribe=True),
    ]
    result = batch.apply_batch(rows, Context(source=Source.IMPORT))
    assert [e.outcome for e in result.events] == ["applied", "refused"]
    assert status(deals) == Status.OPTED_OUT


def test_batch_imports_opt_in_directly_even_for_double_opt_in_programs(vip):
    batch.apply_batch(
        [BatchRow(phone=PHONE, keyword=vip, subscribe=True)], Context(source=Source.IMPORT)
    )
    assert status(vip) == Status.OPTED_IN


def test_batch_dry_run_changes_nothing(deals):
    result = batch.apply_batch(
        [BatchRow(phone=PHONE, keyword=deals, subscribe=True)],
        Context(source=Source.IMPORT),
        dry_run=True,
    )
    assert [e.outcome for e in result.events] == ["applied"]
    assert not Subscription.objects.exists() and not SubscriptionEvent.objects.exists()


def test_batch_queries_do_not_grow_with_rows(code, deals, django_assert_max_num_queries):
    def rows(offset, n):
        return [
            BatchRow(phone=f"+1555444{offset + i:04d}", keyword=deals, subscribe=True)
            for i in range(n)
        ]

    with django_assert_max_num_queries(12):
        batch.apply_batch(rows(0, 5), Context(source=Source.IMPORT))
    with django_assert_max_num_queries(12):
        batch.apply_batch(rows(100, 500), Context(source=Source.IMPORT))
    assert Subscription.objects.filter(status=Status.OPTED_IN).count() == 505


def test_stop_with_fifty_programs_uses_constant_queries(code, django_assert_max_num_queries):
    keywords = [KeywordFactory(short_code=code, word=f"P{i}") for i in range(50)]
    rows = [BatchRow(phone=PHONE, keyword=k, subscribe=True) for k in keywords]
    batch.apply_batch(rows, Context(source=Source.IMPORT))
    with django_assert_max_num_queries(12):
        result = services.stop_all(PHONE, code, Context(source=Source.MO))
    assert len(result.changed) == 50
    assert not Subscription.objects.filter(status=Status.OPTED_IN).exists()
