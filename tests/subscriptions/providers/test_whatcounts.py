"""WhatCounts adapter against the fake api_web: sender-code level, SUCCESS/FAILURE text."""

import pytest

from subscriptions.consent import services
from subscriptions.inbound import mo
from subscriptions.models import ProviderSync, SyncStatus
from tests.subscriptions.conftest import DIGITS, programs

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
