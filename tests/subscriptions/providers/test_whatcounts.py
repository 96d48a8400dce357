"""WhatCounts adapter against the fake api_web: sender-code level, SUCCESS/FAILURE text."""

import pytest

from subscriptions.consent import services
from subscriptions.delivery import messages
from subscriptions.inbound import mo
from subscriptions.models import MessageStatus, ProviderCall, ProviderSync, SyncStatus
from tests.subscriptions.conftest import DIGITS, PHONE, programs

pytestmark = pytest.mark.django_db


@pytest.fixture
def world(whatcounts_account):
    return programs(whatcounts_account, "DEALS", "NEWS")


def form(whatcounts, index):
    return whatcounts.requests[index].form


def test_opt_in_adds_the_phone_to_the_sender_code(world, whatcounts, change):
    code, (deals, _news) = world
    change(services.opt_in, deals, "api")

    assert form(whatcounts, 0) == {
        "c": "addphonetosendercode",
        "r": "acme",
        "p": "wc-pass-456",
        "phone": DIGITS,
        "sender_code": code.code,
    }
    assert whatcounts.requests[0].path == "/bin/api_web"
    assert whatcounts.state == {(DIGITS, code.code)}


def test_opt_out_of_one_keyword_stays_local_while_another_program_is_in(world, whatcounts, change):
    code, (deals, news) = world
    for keyword in (deals, news):
        change(services.opt_in, keyword, "api")
    change(services.opt_out, deals, "web")

    assert whatcounts.calls() == [("addphonetosendercode", DIGITS, code.code)]
    last = ProviderSync.objects.order_by("-id").first()
    assert last.status == SyncStatus.LOCAL_ONLY
    assert "another program on" in last.detail and "DEALS" in last.detail

    # the last program goes: now the provider is told
    change(services.opt_out, news, "web")
    assert whatcounts.calls()[1:] == [("smsstopsubscribersend", DIGITS, code.code)]
    assert whatcounts.state == set()


def test_stop_then_reopt_in(world, whatcounts, change):
    code, (deals, news) = world
    for keyword in (deals, news):
        change(services.opt_in, keyword, "api")
    change(services.stop_all, code, "mo")
    change(services.opt_in, deals, "mo")

    assert whatcounts.calls() == [
        ("addphonetosendercode", DIGITS, code.code),
        ("smsstopsubscribersend", DIGITS, code.code),
        ("addphonetosendercode", DIGITS, code.code),
    ]
    assert whatcounts.state == {(DIGITS, code.code)}


def test_already_in_that_state_failures_count_as_success(world, whatcounts, change):
    code, (deals, _news) = world
    whatcounts.state.add((DIGITS, code.code))  # subscribed at WhatCounts already
    change(services.opt_in, deals, "api")
    whatcounts.state.clear()  # and gone from it before the portal's stop
    change(services.stop_all, code, "mo")

    assert len(whatcounts.requests) == 2
    syncs = list(ProviderSync.objects.order_by("id"))
    assert [s.status for s in syncs] == [SyncStatus.SUCCEEDED, SyncStatus.SUCCEEDED]
    assert "already in effect (FAILURE: subscription exists)" in syncs[0].detail
    assert "already in effect (FAILURE: subscription does not exist)" in syncs[1].detail


def test_bad_password_is_a_permanent_failure(world, whatcounts, whatcounts_account, change):
    whatcounts_account.set_secrets({"password": "nope"})
    whatcounts_account.save()
    _code, (deals, _news) = world
    change(services.opt_in, deals, "api")

    sync = ProviderSync.objects.get()
    assert sync.status == SyncStatus.FAILED
    assert sync.last_error == (
        "permanent error: WhatCounts addphonetosendercode: FAILURE: Invalid realm or password"
    )
    assert len(whatcounts.requests) == 1


def test_unknown_provider_state_is_resent_whichever_way(
    world, whatcounts, change, django_capture_on_commit_callbacks
):
    code, (deals, news) = world
    for keyword in (deals, news):
        change(services.opt_in, keyword, "api")
    whatcounts.state.discard((DIGITS, code.code))  # WhatCounts applies a handset's STOP
    with django_capture_on_commit_callbacks(execute=False):  # forwarded; not yet delivered
        mo.handle_mo(mo.MoText(phone="+" + DIGITS, short_code=code, text="STOP"))

    # A delivery (the opt-ins) came just before: WhatCounts' state is unknown, so the
    # next change is sent although the portal last told WhatCounts "in".
    change(services.opt_in, deals, "api")
    assert whatcounts.calls() == [("addphonetosendercode", DIGITS, code.code)] * 2
    assert whatcounts.state == {(DIGITS, code.code)}


# Texts: smssendmessagetophone ----------------------------------------------------------


def sent(committed, code, text, purpose="reply", **kwargs):
    with committed():
        message = messages.queue_text(PHONE, code, text, purpose, **kwargs)
    message.refresh_from_db()
    return message


def test_a_text_is_smssendmessagetophone_from_the_sender_code(world, whatcounts, committed):
    code, _ = world

    message = sent(committed, code, "Acme: reply STOP to cancel")

    assert message.status == MessageStatus.SENT
    assert form(whatcounts, 0) == {
        "c": "smssendmessagetophone",
        "r": "acme",
        "p": "wc-pass-456",
        "phone": DIGITS,
        "sender_code": code.code,
        "message_text": "Acme: reply STOP to cancel",
    }
    assert whatcounts.texts == [(DIGITS, code.code, "Acme: reply STOP to cancel")]


def test_after_its_stop_whatcounts_delivers_no_text_of_the_portal(
    world, whatcounts, change, committed
):
    code, (deals, _news) = world
    change(services.opt_in, deals, "api")
    change(services.stop_all, code, "web")
    assert whatcounts.confirmations == [(DIGITS, code.code)]  # its own stop message

    with committed():
        message = messages.queue_text(PHONE, code, "Acme: bye", "confirmation")
    message.refresh_from_db()

    assert message.status == MessageStatus.FAILED
    assert "opted out" in message.last_error
    assert whatcounts.texts == [(DIGITS, code.code, "You are unsubscribed.")]


def test_a_one_time_code_reaches_whatcounts_but_never_the_call_log(world, whatcounts, committed):
    code, _ = world

    message = sent(committed, code, "Acme code: 482915", "one_time_code", secret="482915")

    assert whatcounts.texts == [(DIGITS, code.code, "Acme code: 482915")]
    call = ProviderCall.objects.get(message=message)
    assert "482915" not in call.request_body + call.response_body
    assert "wc-pass-456" not in call.request_body
    assert "482915" not in message.text


def test_a_reply_that_is_neither_success_nor_failure_is_retried(world, whatcounts, committed):
    code, _ = world
    whatcounts.fail(1, status=200, body="<html>maintenance</html>")

    message = sent(committed, code, "hello")

    assert (message.status, message.attempts) == (MessageStatus.QUEUED, 1)
