"""Unknown is not empty: a provider the portal never told about a number may hold it all the
same, so an opt-out the portal decided is sent to every account serving the code unless
that account is known to hold the number out. Opt-ins behave as before; opt-outs from an
import never text people en masse."""

import pytest

from subscriptions.consent import services
from subscriptions.delivery.provider_import import HEADER, import_rows, waiting_rows
from subscriptions.models import ProviderSync, SyncStatus
from subscriptions.providers.sfmc.adapter import QUIET_MARK
from tests.factories import KeywordFactory
from tests.subscriptions.conftest import DIGITS, programs

pytestmark = pytest.mark.django_db


def rows():
    return list(ProviderSync.objects.order_by("id"))


def test_a_first_ever_keyword_opt_out_on_skycore_sends_its_campaignref(
    skycore, skycore_account, change
):
    _code, (deals, _news) = programs(skycore_account, "DEALS", "NEWS")

    change(services.opt_out, deals, "api")

    assert skycore.calls() == [("unsubscribe", "ref-DEALS", DIGITS)]
    assert rows()[-1].status == SyncStatus.SUCCEEDED


def test_a_code_wide_opt_out_of_a_never_synced_number_sends_sfmc_a_stop(sfmc, sfmc_account, change):
    code, _keywords = programs(sfmc_account, "DEALS", "NEWS")
    sfmc.state[(DIGITS, "DEALS")] = True  # joined at SFMC directly, never through the portal

    change(services.stop_all, code, "api")  # a call-centre revocation

    assert sfmc.rest_calls() == [
        (
            "/sms/v1/queueMO",
            {"shortCode": code.code, "messageText": "STOP", "mobileNumbers": [DIGITS]},
        )
    ]
    assert sfmc.state[(DIGITS, "DEALS")] is False


def test_a_code_wide_opt_out_reaches_every_account_serving_the_code(
    skycore, skycore_account, whatcounts, whatcounts_account, change
):
    code, (_deals,) = programs(skycore_account, "DEALS")
    whatcounts.state.add((DIGITS, code.code))
    news = KeywordFactory(short_code=code, word="NEWS", provider=whatcounts_account)
    assert news.account_id == whatcounts_account.pk

    change(services.stop_all, code, "api")

    assert skycore.calls() == [("unsubscribe", "ref-DEALS", DIGITS)]
    assert [c[0] for c in whatcounts.calls()] == ["smsstopsubscribersend"]
    assert (DIGITS, code.code) not in whatcounts.state


def test_opt_ins_keep_todays_behaviour_and_known_out_is_not_sent_again(
    skycore, skycore_account, change
):
    code, (deals, _news) = programs(skycore_account, "DEALS", "NEWS")

    change(services.opt_in, deals, "api")
    assert skycore.calls() == [("subscribe", "ref-DEALS", DIGITS)]  # NEWS is not touched

    change(services.opt_out, deals, "api")
    change(services.stop_all, code, "api")  # DEALS is known out; NEWS was never told

    assert skycore.calls()[1:] == [
        ("unsubscribe", "ref-DEALS", DIGITS),
        ("unsubscribe", "ref-NEWS", DIGITS),
    ]


def test_an_import_opt_out_of_a_number_sfmc_never_knew_stays_local_and_texts_nobody(
    sfmc, sfmc_account, change
):
    _code, (deals, _news) = programs(sfmc_account, "DEALS", "NEWS")

    change(services.opt_out, deals, "import")

    assert sfmc.rest_calls() == []
    row = rows()[-1]
    assert row.status == SyncStatus.LOCAL_ONLY and QUIET_MARK in row.detail


def test_an_import_opt_out_of_a_number_sfmc_was_told_goes_by_stop(sfmc, sfmc_account, change):
    code, (deals, _news) = programs(sfmc_account, "DEALS", "NEWS")
    change(services.opt_in, deals, "api")

    change(services.opt_out, deals, "import")

    assert sfmc.rest_calls()[-1] == (
        "/sms/v1/queueMO",
        {"shortCode": code.code, "messageText": "STOP", "mobileNumbers": [DIGITS]},
    )


def test_an_import_opt_out_goes_quietly_where_the_provider_has_a_quiet_path(
    skycore, skycore_account, change
):
    _code, (deals,) = programs(skycore_account, "DEALS")

    change(services.opt_out, deals, "import")  # SkyCore's unsubscribe carries NOTIFY=no

    assert skycore.calls() == [("unsubscribe", "ref-DEALS", DIGITS)]
    assert skycore.xml(skycore.requests[-1])["NOTIFY"] == "no"


def test_quiet_opt_outs_are_listed_with_a_file_for_the_providers_import(
    sfmc, sfmc_account, change, admin_client
):
    code, (deals, news) = programs(sfmc_account, "DEALS", "NEWS")
    change(services.opt_out, deals, "import")
    change(services.opt_out, news, "import")

    listed = list(waiting_rows())
    assert listed and {row.status for row in listed} == {SyncStatus.LOCAL_ONLY}
    assert list(import_rows(listed)) == [
        HEADER,
        [DIGITS, code.code, "DEALS", "Unsubscribe"],
        [DIGITS, code.code, "NEWS", "Unsubscribe"],
    ]
    response = admin_client.post(
        "/admin/subscriptions/providersync/",
        {"action": "provider_import_file", "_selected_action": [listed[-1].pk]},
    )
    assert response.status_code == 200
    body = b"".join(response.streaming_content).decode()
    assert f"{DIGITS},{code.code},NEWS,Unsubscribe" in body
    assert sfmc.rest_calls() == []
