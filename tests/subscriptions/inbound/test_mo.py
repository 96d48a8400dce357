"""MO keyword handling (subscriptions/mo.py): every keyword class of the issue, through
the services, with exactly one reply per message."""

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from subscriptions.common import memo
from subscriptions.consent import services
from subscriptions.consent.services import Context
from subscriptions.inbound import mo as inbound_mo
from subscriptions.inbound.mo import MoAction, MoText
from subscriptions.models import (
    Action,
    InboundReceipt,
    KeywordKind,
    MessageStatus,
    OutboundMessage,
    Outcome,
    ShortCodeStop,
    Source,
    Status,
    Subscription,
    SubscriptionEvent,
)
from tests.factories import KeywordFactory, ProviderAccountFactory, ShortCodeFactory

pytestmark = pytest.mark.django_db

PHONE = "+15555550100"


def mo(code, text, phone=PHONE, **kwargs):
    return inbound_mo.handle_mo(MoText(phone=phone, short_code=code, text=text, **kwargs))


def status_of(keyword, phone=PHONE):
    return Subscription.objects.get(contact__phone=phone, keyword=keyword).status


def replies(phone=PHONE):
    return list(
        OutboundMessage.objects.filter(phone=phone).order_by("id").values_list("text", flat=True)
    )


# Program keywords ---------------------------------------------------------------------------


def test_program_keyword_opts_in_case_insensitively_and_replies_once(code, deals):
    outcome = mo(code, "  deals please")

    assert (outcome.action, outcome.changed) == (MoAction.OPT_IN, [("DEALS", "opted_in")])
    assert status_of(deals) == Status.OPTED_IN
    assert outcome.reply == "Acme: you joined Deals. Reply HELP for help, STOP to cancel."
    assert replies() == [outcome.reply]
    message = OutboundMessage.objects.get()
    assert (message.purpose, message.short_code, message.provider) == ("reply", code, code.provider)
    event = SubscriptionEvent.objects.get()
    assert (event.source, event.action, event.outcome) == (
        Source.MO,
        Action.OPT_IN,
        Outcome.APPLIED,
    )


def test_double_opt_in_keyword_goes_pending_and_the_prompt_is_the_reply(code):
    vip = KeywordFactory(short_code=code, word="VIP", title="VIP alerts", double_opt_in=True)

    outcome = mo(code, "VIP")

    assert outcome.changed == [("VIP", "pending")]
    assert status_of(vip) == Status.PENDING
    assert outcome.reply == "Acme: reply Y to confirm VIP alerts. Msg&data rates may apply."
    assert replies() == [outcome.reply]


def test_keyword_already_joined_changes_nothing_and_still_replies(code, deals):
    mo(code, "DEALS")
    outcome = mo(code, "deals")

    assert outcome.changed == []
    assert SubscriptionEvent.objects.latest("id").outcome == Outcome.NO_CHANGE
    assert replies() == [outcome.reply, outcome.reply]


# Confirmation -------------------------------------------------------------------------------


@pytest.fixture
def vip(code):
    return KeywordFactory(short_code=code, word="VIP", title="VIP alerts", double_opt_in=True)


@pytest.mark.parametrize("word", ["YES", "y", "Yes!", "ok"])
def test_yes_y_and_confirm_keywords_confirm_pending_inside_the_window(code, vip, word):
    KeywordFactory(short_code=code, word="OK", kind=KeywordKind.CONFIRM)
    mo(code, "VIP")

    outcome = mo(code, word)

    assert (outcome.action, outcome.changed) == (MoAction.CONFIRM, [("VIP", "opted_in")])
    assert status_of(vip) == Status.OPTED_IN
    assert outcome.reply == "Acme: you joined VIP alerts. Reply HELP for help, STOP to cancel."
    assert len(replies()) == 2


def _age_pending(keyword, hours):
    Subscription.objects.filter(keyword=keyword).update(
        pending_since=timezone.now() - timedelta(hours=hours)
    )


def test_confirm_outside_the_window_stays_pending_and_says_text_the_keyword_again(code, vip):
    mo(code, "VIP")
    _age_pending(vip, code.double_opt_in_window_hours + 1)

    outcome = mo(code, "Y")

    assert (outcome.action, outcome.changed) == (MoAction.CONFIRM, [])
    assert status_of(vip) == Status.PENDING
    assert outcome.reply == "Acme: the time to confirm has passed. Text VIP again to join."
    event = SubscriptionEvent.objects.latest("id")
    assert (event.outcome, event.reason) == (Outcome.REFUSED, "confirmation window closed")


def test_confirm_with_nothing_pending_is_recorded_and_answered_with_help(code, deals):
    outcome = mo(code, "Y")

    assert (outcome.action, outcome.changed) == (MoAction.CONFIRM, [])
    assert outcome.reply == code.render(code.help_text)
    assert SubscriptionEvent.objects.get().reason == "nothing waiting for confirmation"


# STOP family and custom stops ---------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "STOP",
        "stop",
        "Stop.",
        "STOPALL",
        "UNSUBSCRIBE",
        "cancel",
        "END",
        "QUIT",
        "REVOKE",
        "OPTOUT",
        "opt out",
        "Opt Out now",
    ],
)
def test_stop_family_opts_out_every_program_and_records_the_code_stop(code, deals, news, text):
    mo(code, "DEALS")
    mo(code, "NEWS")

    outcome = mo(code, text)

    assert outcome.action == MoAction.STOP_ALL
    assert sorted(outcome.changed) == [("DEALS", "opted_out"), ("NEWS", "opted_out")]
    assert ShortCodeStop.objects.filter(short_code=code, cleared_at__isnull=True).count() == 1
    assert outcome.reply == "Acme: you are unsubscribed and will receive no more messages."
    assert replies()[-1] == outcome.reply and len(replies()) == 3


def test_stop_from_a_number_with_no_subscription_still_records_the_stop(code):
    outcome = mo(code, "STOP")

    assert outcome.changed == []
    assert ShortCodeStop.objects.filter(contact__phone=PHONE, short_code=code).exists()
    assert replies() == [outcome.reply]


def test_custom_stop_keyword_opts_out_only_its_accounts_programs(code, deals):
    other_account = ProviderAccountFactory()
    partner = KeywordFactory(short_code=code, word="PARTNER", provider=other_account)
    KeywordFactory(short_code=code, word="STOP1", kind=KeywordKind.STOP, provider=other_account)
    mo(code, "DEALS")
    mo(code, "PARTNER")

    outcome = mo(code, "stop1")

    assert (outcome.action, outcome.changed) == (MoAction.OPT_OUT, [("PARTNER", "opted_out")])
    assert (status_of(deals), status_of(partner)) == (Status.OPTED_IN, Status.OPTED_OUT)
    assert not ShortCodeStop.objects.exists()
    # A revocation of that account's programs: the confirmation names them.
    assert outcome.reply == code.render(code.opt_out_text, program=partner.display_title)
    # The account that owns the stop keyword ran it already: not sent back to it.
    stops = SubscriptionEvent.objects.filter(action=Action.CUSTOM_STOP)
    assert {e.detail["provider_account_id"] for e in stops} == {other_account.pk}


def test_stop_of_50_programs_costs_the_same_queries_as_5_and_sends_one_reply(code, monkeypatch):
    # Counts, not times: the per-process caches' once-a-second check would add a query
    # whenever a slow machine crosses a second.
    monkeypatch.setattr(memo, "CHECK_SECONDS", 3600)

    def enrolled_code(n_programs, phone):
        short_code = ShortCodeFactory()
        keywords = KeywordFactory.create_batch(n_programs, short_code=short_code)
        for keyword in keywords:
            services.opt_in(phone, keyword, Context(source=Source.MO))
        return short_code

    def stop_queries(short_code, phone):
        before = OutboundMessage.objects.count()
        with CaptureQueriesContext(connection) as queries:
            outcome = mo(short_code, "STOP", phone=phone)
        assert OutboundMessage.objects.count() == before + 1
        return outcome, len(queries)

    mo(enrolled_code(1, "+15555550101"), "STOP", phone="+15555550101")  # warm caches
    small, small_count = stop_queries(enrolled_code(5, "+15555550105"), "+15555550105")
    big_code = enrolled_code(50, "+15555550150")
    big, big_count = stop_queries(big_code, "+15555550150")

    assert len(small.changed) == 5 and len(big.changed) == 50
    assert {status for _, status in big.changed} == {"opted_out"}
    assert (
        not Subscription.objects.filter(short_code=big_code)
        .exclude(status=Status.OPTED_OUT)
        .exists()
    )
    assert big_count == small_count, (small_count, big_count)
    assert replies("+15555550150") == [big_code.render(big_code.stop_text)]


# START / UNSTOP / YES -----------------------------------------------------------------------


@pytest.mark.parametrize("word", ["START", "unstop", "Yes"])
def test_start_words_lift_the_stop_and_restore_exactly_the_stopped_programs(
    code, deals, news, word
):
    mo(code, "DEALS")
    mo(code, "NEWS")
    services.opt_out(PHONE, news, Context(source=Source.WEB))  # left before the STOP
    mo(code, "STOP")

    outcome = mo(code, word)

    assert (outcome.action, outcome.changed) == (MoAction.OPT_IN, [("DEALS", "opted_in")])
    assert (status_of(deals), status_of(news)) == (Status.OPTED_IN, Status.OPTED_OUT)
    assert not ShortCodeStop.objects.filter(cleared_at__isnull=True).exists()
    assert outcome.reply == "Acme: you joined Deals. Reply HELP for help, STOP to cancel."


def test_yes_with_pending_only_outside_the_window_acts_as_start(code, deals, vip):
    mo(code, "DEALS")
    mo(code, "STOP")
    mo(code, "VIP")
    _age_pending(vip, 48)

    outcome = mo(code, "YES")

    assert outcome.changed == [("DEALS", "opted_in")]
    assert status_of(vip) == Status.PENDING


def test_start_without_a_stop_changes_nothing_and_answers_with_help(code, deals):
    outcome = mo(code, "START")

    assert (outcome.action, outcome.changed) == (MoAction.OPT_IN, [])
    assert outcome.reply == code.render(code.help_text)
    assert SubscriptionEvent.objects.get().outcome == Outcome.NO_CHANGE


# HELP and anything else ---------------------------------------------------------------------


@pytest.mark.parametrize("text", ["HELP", "info", "AIDE me"])
@pytest.mark.parametrize("subscribed", [True, False])
def test_help_words_reply_with_the_help_text_subscribed_or_not(code, deals, text, subscribed):
    KeywordFactory(short_code=code, word="AIDE", kind=KeywordKind.HELP)
    if subscribed:
        mo(code, "DEALS")

    outcome = mo(code, text)

    assert (outcome.action, outcome.changed) == (MoAction.HELP, [])
    assert outcome.reply == "Acme: reply STOP to cancel, HELP for help. Msg&data rates may apply."
    event = SubscriptionEvent.objects.latest("id")
    assert (event.action, event.outcome) == (Action.HELP, Outcome.NO_CHANGE)
    assert Subscription.objects.filter(status=Status.OPTED_IN).count() == int(subscribed)


@pytest.mark.parametrize("text", ["hello there", "", "   ", "🙂", "DEALZ"])
def test_anything_else_is_action_none_recorded_and_changes_nothing(code, deals, text):
    outcome = mo(code, text, raw_payload=f'{{"text": "{text}"}}')

    assert (outcome.action, outcome.changed) == (MoAction.NONE, [])
    event = SubscriptionEvent.objects.get()
    assert (event.action, event.outcome, event.keyword) == (Action.NONE, Outcome.NO_CHANGE, None)
    assert event.raw_payload == f'{{"text": "{text}"}}'
    assert not Subscription.objects.exists()
    assert replies() == [code.render(code.help_text)]


# Repeats and delivery -----------------------------------------------------------------------


def test_repeated_message_id_applies_once_with_one_history_row_and_one_reply(code, deals):
    first = mo(code, "DEALS", message_id="mo-1")
    again = mo(code, "DEALS", message_id="mo-1")

    assert (first.duplicate, again.duplicate, again.reply, again.changed) == (False, True, None, [])
    assert SubscriptionEvent.objects.count() == 1
    assert len(replies()) == 1
    assert InboundReceipt.objects.get(source=Source.MO).repeats == 1


def test_same_message_id_on_another_code_is_a_different_message(code, deals):
    other = KeywordFactory(word="DEALS")
    mo(code, "DEALS", message_id="mo-1")

    outcome = mo(other.short_code, "DEALS", message_id="mo-1")

    assert (outcome.duplicate, outcome.changed) == (False, [("DEALS", "opted_in")])


def test_the_reply_is_sent_through_the_codes_provider_after_commit(code, deals, on_commit):
    with on_commit():
        outcome = mo(code, "DEALS")

    message = OutboundMessage.objects.get()
    assert (message.text, message.status) == (outcome.reply, MessageStatus.SENT)
    assert message.sent_at is not None


def test_received_at_is_kept_as_evidence_while_the_event_occurs_now(code, deals):
    handset_time = timezone.now() - timedelta(minutes=3)

    mo(code, "DEALS", received_at=handset_time)

    event = SubscriptionEvent.objects.get()
    assert event.detail == {"word": "DEALS", "received_at": handset_time.isoformat()}
    assert event.occurred_at > handset_time


@pytest.mark.postgres
def test_stop_and_reply_delivery_lock_only_their_own_rows(code, deals, news, on_commit):
    """Row locks taken with a join must name their table (FOR UPDATE OF ...): otherwise the
    keyword and short code rows are locked too and every STOP on a code waits for the last
    (and a worker claiming a reply skips every other reply on the code)."""
    mo(code, "DEALS")
    mo(code, "NEWS")

    with CaptureQueriesContext(connection) as queries, on_commit():
        mo(code, "STOP")

    locking = [q["sql"] for q in queries.captured_queries if "FOR UPDATE" in q["sql"]]
    joined = [sql for sql in locking if " JOIN " in sql]
    assert joined, "the STOP and the reply claim lock rows read with joins"
    assert all("FOR UPDATE OF" in sql for sql in joined), joined
    assert OutboundMessage.objects.filter(status=MessageStatus.SENT).count() == 1
