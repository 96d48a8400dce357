"""SkyCore adapter against the fake v1.3 XML API: the exact requests it receives."""

import pytest

from subscriptions.consent import services
from subscriptions.delivery import messages
from subscriptions.models import MessageStatus, ProviderCall, ProviderSync, SyncStatus
from tests.factories import KeywordFactory
from tests.subscriptions.conftest import DIGITS, PHONE, programs

pytestmark = pytest.mark.django_db


@pytest.fixture
def world(skycore_account):
    return programs(skycore_account, "DEALS", "NEWS")


def test_opt_in_subscribes_the_campaign(world, skycore, change):
    _code, (deals, _news) = world
    change(services.opt_in, deals, "api")

    assert skycore.calls() == [("subscribe", "ref-DEALS", DIGITS)]
    assert skycore.xml(skycore.requests[0]) == {
        "ACTION": "subscribe",
        "API_KEY": "sky-key-123",
        "CAMPAIGNREF": "ref-DEALS",
        "MOBILE": DIGITS,
    }
    assert skycore.requests[0].method == "POST"
    sync = ProviderSync.objects.get()
    assert (sync.status, sync.attempts) == (SyncStatus.SUCCEEDED, 1)


def test_opt_out_of_one_keyword_unsubscribes_only_that_campaign(world, skycore, change):
    _code, (deals, news) = world
    change(services.opt_in, deals, "api")
    change(services.opt_in, news, "api")
    change(services.opt_out, deals, "web")

    assert skycore.calls() == [
        ("subscribe", "ref-DEALS", DIGITS),
        ("subscribe", "ref-NEWS", DIGITS),
        ("unsubscribe", "ref-DEALS", DIGITS),
    ]
    assert skycore.xml(skycore.requests[-1])["NOTIFY"] == "no"
    assert skycore.state == {(DIGITS, "ref-DEALS"): False, (DIGITS, "ref-NEWS"): True}


def test_stop_unsubscribes_every_campaign_then_reopt_in_subscribes_again(world, skycore, change):
    code, (deals, news) = world
    for keyword in (deals, news):
        change(services.opt_in, keyword, "api")
    change(services.stop_all, code, "mo")
    assert skycore.calls()[2:] == [
        ("unsubscribe", "ref-DEALS", DIGITS),
        ("unsubscribe", "ref-NEWS", DIGITS),
    ]

    change(services.opt_in, news, "mo")
    assert skycore.calls()[4:] == [("subscribe", "ref-NEWS", DIGITS)]
    assert skycore.state == {(DIGITS, "ref-DEALS"): False, (DIGITS, "ref-NEWS"): True}


def test_bad_api_key_is_permanent_and_the_key_never_reaches_the_log(
    world, skycore, skycore_account, change
):
    skycore_account.set_secrets({"api_key": "wrong-key-000"})
    skycore_account.save()
    _code, (deals, _news) = world
    change(services.opt_in, deals, "api")

    sync = ProviderSync.objects.get()
    assert sync.status == SyncStatus.FAILED
    assert sync.last_error == "permanent error: SkyCore E104: Authentication failed"
    call = ProviderCall.objects.get()
    assert "wrong-key-000" not in call.request_body
    assert "[redacted]" in call.request_body
    assert (call.status_code, call.sync_id) == (200, sync.pk)


def test_rate_limit_e106_is_retried(world, skycore, change):
    _code, (deals, _news) = world
    skycore.fail(
        1,
        status=200,
        body="<RESPONSE><STATUS>Failure</STATUS>"
        "<ERRORCODE>E106</ERRORCODE><ERRORINFO>Rate limited</ERRORINFO></RESPONSE>",
    )
    change(services.opt_in, deals, "api")

    sync = ProviderSync.objects.get()
    assert (sync.status, sync.attempts) == (SyncStatus.PENDING, 1)
    assert sync.last_error == "SkyCore E106: Rate limited"


# Texts: sendSMS ------------------------------------------------------------------------


def sent(committed, code, text, purpose="reply", **kwargs):
    with committed():
        message = messages.queue_text(PHONE, code, text, purpose, **kwargs)
    message.refresh_from_db()
    return message


def test_a_text_is_send_sms_from_the_code_under_a_program_campaign(world, skycore, committed):
    code, _ = world

    message = sent(committed, code, "Acme: reply STOP to cancel")

    assert message.status == MessageStatus.SENT
    assert skycore.sent_texts() == [
        {
            "ACTION": "sendSMS",
            "API_KEY": "sky-key-123",
            "TO": DIGITS,
            "FROM": code.code,
            "CAMPAIGNREF": "ref-DEALS",  # the first program by word that has a campaign
            "TEXT": "Acme: reply STOP to cancel",
        }
    ]
    assert skycore.texts == [(DIGITS, code.code, "Acme: reply STOP to cancel", "ref-DEALS")]
    assert ProviderCall.objects.get().message_id == message.pk


def test_a_text_leaves_campaignref_out_when_no_program_of_the_account_has_one(
    skycore, skycore_account, sfmc_account, committed
):
    code, _ = programs(skycore_account, "DEALS", provider_ref="")
    KeywordFactory(short_code=code, word="AAA", provider=sfmc_account, provider_ref="sfmc-key")

    sent(committed, code, "hello")

    assert "CAMPAIGNREF" not in skycore.sent_texts()[0]  # another account's ref is no campaign


def test_an_account_that_enforces_the_campaign_check_needs_the_campaign(
    skycore, skycore_account, committed
):
    skycore.enforce_campaign_check = True
    bare, _ = programs(skycore_account, "DEALS", provider_ref="")
    with_campaign, _ = programs(skycore_account, "NEWS")

    refused = sent(committed, bare, "hello")
    accepted = sent(committed, with_campaign, "hello")

    assert refused.status == MessageStatus.FAILED
    assert "CAMPAIGNREF required" in refused.last_error
    assert accepted.status == MessageStatus.SENT


def test_a_billing_problem_e713_fails_the_text_for_good(world, skycore, committed):
    code, _ = world
    skycore.billing_problem = True

    message = sent(committed, code, "hello")

    assert message.status == MessageStatus.FAILED
    assert message.last_error == "permanent error: SkyCore E713: Billing problem"
    assert skycore.texts == []


def test_a_one_time_code_reaches_skycore_but_never_the_call_log(world, skycore, committed):
    code, _ = world

    message = sent(committed, code, "Acme code: 482915", "one_time_code", secret="482915")

    assert skycore.texts[0][2] == "Acme code: 482915"
    call = ProviderCall.objects.get(message=message)
    assert "482915" not in call.request_body + call.response_body + call.url
    assert "[redacted]" in call.request_body
    assert "482915" not in message.text and message.sealed_text == ""


def test_a_rate_limited_text_is_retried(world, skycore, committed):
    code, _ = world
    skycore.fail(
        1,
        status=200,
        body="<RESPONSE><STATUS>Failure</STATUS>"
        "<ERRORCODE>E106</ERRORCODE><ERRORINFO>Rate limited</ERRORINFO></RESPONSE>",
    )

    message = sent(committed, code, "hello")

    assert (message.status, message.attempts) == (MessageStatus.QUEUED, 1)
    assert message.last_error == "SkyCore E106: Rate limited"
