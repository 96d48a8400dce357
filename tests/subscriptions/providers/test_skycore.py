"""SkyCore adapter against the fake v1.3 XML API: the exact requests it receives."""

import pytest

from subscriptions.consent import services
from subscriptions.models import ProviderCall, ProviderSync, SyncStatus
from tests.subscriptions.conftest import DIGITS, programs

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
