"""SFMC MobileConnect adapter against the fake: token, queueMO, messageContact send."""

import pytest
from django.core.cache import cache

from subscriptions.consent import services
from subscriptions.delivery import messages
from subscriptions.models import (
    KeywordKind,
    MessageStatus,
    ProviderCall,
    ProviderSync,
    SyncStatus,
)
from tests.factories import KeywordFactory
from tests.subscriptions.conftest import DIGITS, PHONE, account_for, programs

pytestmark = pytest.mark.django_db

TOKEN_BODY = {
    "grant_type": "client_credentials",
    "client_id": "cid",
    "client_secret": "csecret-789",
    "account_id": "5001",
}


@pytest.fixture(autouse=True)
def fresh_token_cache():
    cache.clear()


@pytest.fixture
def world(sfmc_account):
    code, (deals, news) = programs(sfmc_account, "DEALS", "NEWS")
    news.provider_ref = ""  # no message key: opt-in by queueMO of the keyword
    news.save()
    return code, (deals, news)


def test_opt_in_token_then_message_contact_subscribe_and_queue_mo(world, sfmc, change):
    code, (deals, news) = world
    change(services.opt_in, deals, "api")
    change(services.opt_in, news, "api")

    assert [r.path for r in sfmc.requests] == [
        "/v2/token",
        "/sms/v1/messageContact/ref-DEALS/send",
        "/sms/v1/queueMO",
    ]
    assert sfmc.requests[0].json == TOKEN_BODY
    token = sfmc.requests[1].headers["authorization"]
    assert token.startswith("Bearer ") and sfmc.requests[2].headers["authorization"] == token
    assert sfmc.rest_calls() == [
        (
            "/sms/v1/messageContact/ref-DEALS/send",
            {"mobileNumbers": [DIGITS], "Subscribe": True, "Resubscribe": True, "keyword": "DEALS"},
        ),
        (
            "/sms/v1/queueMO",
            {"shortCode": code.code, "messageText": "NEWS", "mobileNumbers": [DIGITS]},
        ),
    ]


def test_keyword_opt_out_is_local_only_until_no_program_remains(world, sfmc, change):
    code, (deals, news) = world
    for keyword in (deals, news):
        change(services.opt_in, keyword, "api")
    change(services.opt_out, deals, "web")

    last = ProviderSync.objects.order_by("-id").first()
    assert last.status == SyncStatus.LOCAL_ONLY
    assert last.detail == (
        "local only: SFMC can only opt out code-wide and NEWS is still "
        "opted in; DEALS is blocked by the portal's sendability check"
    )
    assert len(sfmc.rest_calls()) == 2

    change(services.opt_out, news, "web")
    assert sfmc.rest_calls()[2:] == [
        (
            "/sms/v1/queueMO",
            {"shortCode": code.code, "messageText": "STOP", "mobileNumbers": [DIGITS]},
        )
    ]
    assert ProviderSync.objects.order_by("-id").first().status == SyncStatus.SUCCEEDED


def test_stop_sends_one_queue_mo_stop_then_reopt_in_resubscribes(world, sfmc, change):
    code, (deals, news) = world
    for keyword in (deals, news):
        change(services.opt_in, keyword, "api")
    change(services.stop_all, code, "mo")
    change(services.opt_in, deals, "web")

    assert sfmc.rest_calls()[2:] == [
        (
            "/sms/v1/queueMO",
            {"shortCode": code.code, "messageText": "STOP", "mobileNumbers": [DIGITS]},
        ),
        (
            "/sms/v1/messageContact/ref-DEALS/send",
            {"mobileNumbers": [DIGITS], "Subscribe": True, "Resubscribe": True, "keyword": "DEALS"},
        ),
    ]
    assert sfmc.state == {(DIGITS, "DEALS"): True, (DIGITS, "NEWS"): False}
    assert len(sfmc.token_requests()) == 1  # one token reused for all four calls


def test_custom_stop_keyword_of_the_account_is_used_for_its_code_wide_opt_out(
    world, sfmc, sfmc_account, change
):
    code, (deals, _news) = world
    KeywordFactory(short_code=code, word="STOP1", kind=KeywordKind.STOP, provider=sfmc_account)
    change(services.opt_in, deals, "api")
    change(services.opt_out, deals, "api")

    assert sfmc.rest_calls()[-1] == (
        "/sms/v1/queueMO",
        {"shortCode": code.code, "messageText": "STOP1", "mobileNumbers": [DIGITS]},
    )


def test_shared_code_each_business_unit_only_hears_of_its_own_keywords(world, sfmc, change):
    code, (deals, _news) = world
    other = account_for(
        "sfmc",
        {"auth_base_url": sfmc.url, "rest_base_url": sfmc.url, "account_id": "5001"},
        {"client_id": "cid", "client_secret": "csecret-789"},
    )
    vip = KeywordFactory(short_code=code, word="VIP", provider=other, provider_ref="ref-VIP")
    change(services.opt_in, vip, "api")
    change(services.opt_in, deals, "api")
    change(services.opt_out, deals, "api")

    targets = list(ProviderSync.objects.order_by("id").values_list("provider_id", "status"))
    assert targets == [
        (other.pk, SyncStatus.SUCCEEDED),
        (code.provider_id, SyncStatus.SUCCEEDED),
        (code.provider_id, SyncStatus.LOCAL_ONLY),
    ]
    # A plain STOP from this business unit would also end VIP of the other one.
    assert (
        "STOP would also end VIP of another account"
        in ProviderSync.objects.order_by("-id").first().detail
    )
    assert [path for path, _ in sfmc.rest_calls()] == [
        "/sms/v1/messageContact/ref-VIP/send",
        "/sms/v1/messageContact/ref-DEALS/send",
    ]

    KeywordFactory(short_code=code, word="STOPDEALS", kind=KeywordKind.STOP, provider=code.provider)
    # with its own stop keyword the business unit can be told
    change(services.opt_in, deals, "api")
    change(services.opt_out, deals, "api")
    assert sfmc.rest_calls()[-1] == (
        "/sms/v1/queueMO",
        {"shortCode": code.code, "messageText": "STOPDEALS", "mobileNumbers": [DIGITS]},
    )


def test_token_is_reused_then_fetched_again_after_a_401(world, sfmc, change):
    _code, (deals, news) = world
    change(services.opt_in, deals, "api")
    change(services.opt_in, news, "api")
    assert len(sfmc.token_requests()) == 1

    sfmc.expire_tokens()
    change(services.opt_out, deals, "api")
    change(services.opt_out, news, "api")

    assert [r.path for r in sfmc.requests][3:] == [
        "/sms/v1/queueMO",
        "/v2/token",
        "/sms/v1/queueMO",
    ]
    assert [r.status_code for r in ProviderCall.objects.order_by("id")][3:] == [401, 200, 202]
    assert len(sfmc.token_requests()) == 2
    assert ProviderSync.objects.order_by("-id").first().status == SyncStatus.SUCCEEDED


def test_token_is_cached_until_shortly_before_expiry(world, sfmc, change, clock):
    sfmc.expires_in = 61  # cached for 1 s only (60 s early refresh)
    _code, (deals, news) = world
    change(services.opt_in, deals, "api")
    change(services.opt_out, deals, "api")
    assert len(sfmc.token_requests()) == 1  # the cached token
    clock.advance(2)
    change(services.opt_in, news, "api")
    assert len(sfmc.token_requests()) == 2


def test_bad_credentials_fail_permanently_and_secrets_are_redacted(
    world, sfmc, sfmc_account, change
):
    sfmc_account.set_secrets({"client_secret": "wrong-secret-42"})
    sfmc_account.save()
    _code, (deals, _news) = world
    change(services.opt_in, deals, "api")

    sync = ProviderSync.objects.get()
    assert sync.status == SyncStatus.FAILED
    assert sync.last_error.startswith("permanent error: SFMC refused the credentials (401)")
    call = ProviderCall.objects.get()
    assert "wrong-secret-42" not in call.request_body
    assert '"client_secret": "[redacted]"' in call.request_body


def test_token_in_the_token_response_is_redacted_in_the_log(world, sfmc, change):
    _code, (deals, _news) = world
    change(services.opt_in, deals, "api")
    token_call = ProviderCall.objects.order_by("id").first()
    assert '"access_token": "[redacted]"' in token_call.response_body
    assert not any(t in token_call.response_body for t in sfmc.tokens)


def test_rate_limit_429_honours_retry_after(world, sfmc, change):
    _code, (deals, _news) = world
    sfmc.fault_paths = {"/sms/v1/messageContact/ref-DEALS/send"}
    sfmc.fail(1, status=429, body='{"errorcode": 50100}', headers={"Retry-After": "900"})
    change(services.opt_in, deals, "api")

    sync = ProviderSync.objects.get()
    assert sync.status == SyncStatus.PENDING
    wait = (sync.next_attempt_at - sync.updated_at).total_seconds()
    assert 899 <= wait <= 901  # the backoff (15-30 s) is shorter: Retry-After wins


def test_send_text_uses_message_contact_override(sfmc, sfmc_account, committed):
    sfmc_account.settings = {**sfmc_account.settings, "send_message_key": "MSG-TXT"}
    sfmc_account.save()
    code, _ = programs(sfmc_account, "DEALS")
    with committed():
        message = messages.queue_text(PHONE, code, "Your code is 123456", "one_time_code")

    message.refresh_from_db()
    assert message.status == MessageStatus.SENT
    assert sfmc.rest_calls() == [
        (
            "/sms/v1/messageContact/MSG-TXT/send",
            {"mobileNumbers": [DIGITS], "Override": True, "messageText": "Your code is 123456"},
        )
    ]
    assert ProviderCall.objects.filter(message=message).count() == 2  # token + send
