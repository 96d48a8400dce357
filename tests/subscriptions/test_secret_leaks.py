"""After a full run through every provider (opt-ins, opt-outs, a STOP, a postback, provider
failures), no provider secret or issued token appears in the logs, the admin, the API, the
HTTP call log or the outbox rows."""

import html
import json
import logging
from urllib.parse import quote, quote_plus

import pytest
from django.core.cache import cache
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from subscriptions.models import (
    OutboundMessage,
    ProviderAccount,
    ProviderCall,
    ProviderKind,
    ProviderSync,
    SubscriptionEvent,
)
from tests.factories import UserFactory
from tests.fakes import FakeSfmc, FakeSkyCore, FakeWhatCounts
from tests.subscriptions.conftest import account_for, programs

pytestmark = pytest.mark.django_db
URL_SAFE = ("csecret-789", "wc-pass-456", "sky-key-123")
# Issue 16: every character that URL-, JSON-, XML- or HTML-encoding changes, and spaces.
HOSTILE = (
    "cs %&+=/\"'\\ <789>",
    "wc p%&+=/\"'\\ 456",
    "sky %26&+=/\"'\\ key",
)


@pytest.fixture(params=[URL_SAFE, HOSTILE], ids=["url-safe", "hostile"])
def secrets(request):
    return request.param


@pytest.fixture
def sfmc(secrets):
    with FakeSfmc(client_id="cid", client_secret=secrets[0], account_id="5001") as fake:
        yield fake


@pytest.fixture
def sfmc_account(sfmc, secrets):
    return account_for(
        ProviderKind.SFMC,
        {"auth_base_url": sfmc.url, "rest_base_url": sfmc.url, "account_id": "5001"},
        {"client_id": "cid", "client_secret": secrets[0]},
    )


@pytest.fixture
def whatcounts(secrets):
    with FakeWhatCounts(realm="acme", password=secrets[1]) as fake:
        yield fake


@pytest.fixture
def whatcounts_account(whatcounts, secrets):
    return account_for(
        ProviderKind.WHATCOUNTS,
        {"base_url": whatcounts.url, "realm": "acme"},
        {"password": secrets[1]},
    )


@pytest.fixture
def skycore(secrets):
    with FakeSkyCore(api_key=secrets[2]) as fake:
        yield fake


@pytest.fixture
def skycore_account(skycore, secrets):
    return account_for(ProviderKind.SKYCORE, {"api_url": skycore.api_url}, {"api_key": secrets[2]})


def forms(secret):
    """The encodings a leak could take: raw, URL-encoded, JSON-escaped, HTML-escaped."""
    return {
        secret,
        quote(secret, safe=""),
        quote_plus(secret),
        json.dumps(secret)[1:-1],
        html.escape(secret),
    }


PHONE = "15555550123"
POSTBACK = """<?xml version='1.0'?>
<POSTBACK><ORIGIN>SUB</ORIGIN><CODE>N302</CODE><MOBILE>{phone}</MOBILE>
<CAMPAIGNREF>{ref}</CAMPAIGNREF><TIMESTAMP>2030-07-02T14:32:23-04</TIMESTAMP>
<SHORTCODE>{code}</SHORTCODE><CAMPAIGNTITLE>Club</CAMPAIGNTITLE><BRANDNAME>Acme</BRANDNAME>
<SOURCE>MO</SOURCE></POSTBACK>"""


@pytest.fixture
def superuser():
    return UserFactory(is_staff=True, is_superuser=True)


@pytest.fixture
def api(superuser):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=superuser).key}")
    return client


@pytest.fixture
def everything_captured(caplog):
    caplog.set_level(logging.DEBUG)
    cache.clear()  # a fresh SFMC token is requested (and must not leak either)
    return caplog


def run_consent_traffic(api, committed, worlds):
    for code, keywords in worlds:
        for keyword in keywords:
            with committed():
                api.post(
                    "/api/v1/opt-ins/",
                    {"phone": PHONE, "short_code": code.code, "keyword": keyword.word},
                    format="json",
                )
        with committed():
            api.post(
                "/api/v1/opt-outs/",
                {"phone": PHONE, "short_code": code.code, "keyword": keywords[0].word},
                format="json",
            )
        with committed():
            api.post(
                "/api/v1/inbound/",
                {"from": PHONE, "to": code.code, "text": "STOP", "message_id": f"mo-{code.code}"},
                format="json",
            )


def pages_and_answers(client, api, superuser):
    """Everything a person or an integration can read back."""
    client.force_login(superuser)
    urls = [
        "/admin/subscriptions/provideraccount/",
        "/admin/subscriptions/providersync/",
        "/admin/subscriptions/providercall/",
        "/admin/subscriptions/outboundmessage/",
        "/admin/subscriptions/subscriptionevent/",
    ]
    urls += [
        f"/admin/subscriptions/provideraccount/{pk}/change/"
        for pk in ProviderAccount.objects.values_list("pk", flat=True)
    ]
    urls += [
        f"/admin/subscriptions/providersync/{pk}/change/"
        for pk in ProviderSync.objects.values_list("pk", flat=True)
    ]
    urls += [
        f"/admin/subscriptions/providercall/{pk}/change/"
        for pk in ProviderCall.objects.values_list("pk", flat=True)
    ]
    texts = [client.get(url).content.decode() for url in urls]
    for url in [
        "/api/v1/providers/",
        "/api/v1/syncs/",
        "/api/v1/events/",
        f"/api/v1/contacts/{PHONE}/",
        "/api/v1/outbox/",
    ]:
        texts.append(api.get(url).content.decode())
    texts += [
        api.get(f"/api/v1/providers/{pk}/").content.decode()
        for pk in ProviderAccount.objects.values_list("pk", flat=True)
    ]
    return texts


def stored_rows():
    rows = []
    for call in ProviderCall.objects.all():
        rows += [call.url, call.request_body, call.response_body, call.error]
    for sync in ProviderSync.objects.all():
        rows += [sync.last_error, sync.detail, str(sync.state)]
    for message in OutboundMessage.objects.all():
        rows += [message.text, message.last_error]
    for event in SubscriptionEvent.objects.all():
        rows += [event.raw_payload, str(event.detail), event.reason]
    return rows


def test_no_secret_leaks_anywhere_after_a_full_run(
    client,
    api,
    superuser,
    committed,
    everything_captured,
    secrets,
    sfmc,
    sfmc_account,
    whatcounts,
    whatcounts_account,
    skycore,
    skycore_account,
):
    worlds = [
        programs(sfmc_account, "DEALS", "NEWS"),
        programs(whatcounts_account, "ALERTS"),
        programs(skycore_account, "CLUB"),
    ]
    # Providers echo what they were sent, in their own encodings.
    sfmc.fail(
        times=1,
        status=401,
        body=json.dumps({"errors": [f"bad client_secret {secrets[0]}", quote(secrets[0])]}),
    )
    whatcounts.fail(
        times=2,
        status=500,
        body=f"FAILURE: realm acme password {secrets[1]} (p={quote_plus(secrets[1])})",
    )
    run_consent_traffic(api, committed, worlds)
    skycore_code, (club,) = worlds[2]
    with committed():
        client.post(
            f"/webhooks/skycore/{skycore_account.postback_token}/",
            POSTBACK.format(phone=PHONE, ref=club.provider_ref, code=skycore_code.code),
            content_type="text/xml",
        )

    # The run really used the secrets (otherwise finding none would prove nothing).
    assert any(r.json and r.json.get("client_secret") == secrets[0] for r in sfmc.requests)
    assert any(r.form.get("p") == secrets[1] for r in whatcounts.requests)
    assert any(skycore.xml(r).get("API_KEY") == secrets[2] for r in skycore.requests)
    tokens = set(sfmc.tokens)
    assert tokens and ProviderCall.objects.count() >= 8

    haystack = "\n".join(
        [everything_captured.text, *stored_rows(), *pages_and_answers(client, api, superuser)]
    )
    for secret in [*secrets, *tokens]:
        for form in forms(secret):
            assert form not in haystack, f"{secret!r} leaked as {form!r}"
    assert "[redacted]" in haystack  # the failing bodies that echoed secrets were redacted
