"""Issue 16: a one-time code is never stored in clear (outbox row, call log, admin, API),
except by the console provider whose outbox is the demo's handset."""

import re

import pytest
from django.core.cache import cache

from subscriptions.consent import services
from subscriptions.consent.services import Context
from subscriptions.delivery import messages
from subscriptions.models import MessagePurpose, MessageStatus, OutboundMessage, ProviderCall
from subscriptions.preferences import service
from tests.factories import KeywordFactory, ShortCodeFactory, UserFactory
from tests.subscriptions.conftest import programs

pytestmark = pytest.mark.django_db
PHONE = "+15555550101"


@pytest.fixture(autouse=True)
def _fresh_cache():
    cache.clear()


def sent_code(sfmc):
    (_path, body), *_ = [c for c in sfmc.rest_calls() if "messageContact" in c[0]]
    return re.search(r"\b(\d{6})\b", body["messageText"]).group(1)


def test_a_code_texted_through_a_real_provider_is_kept_masked_and_as_an_hmac(
    sfmc, sfmc_account, committed, client
):
    sfmc_account.settings = {**sfmc_account.settings, "send_message_key": "MSG-TXT"}
    sfmc_account.save()
    _code, (deals,) = programs(sfmc_account, "DEALS")
    services.opt_in(PHONE, deals, Context(source="mo"))
    with committed():
        service.request_code(PHONE, "203.0.113.5", "en")

    code = sent_code(sfmc)  # what the handset got
    message = OutboundMessage.objects.get(purpose=MessagePurpose.ONE_TIME_CODE)
    assert message.status == MessageStatus.SENT
    assert code not in message.text and messages.MASK in message.text
    assert message.sealed_text == ""  # erased once sent
    assert message.text_hmac == messages.text_hmac(message.text.replace(messages.MASK, code))
    for call in ProviderCall.objects.filter(message=message):
        assert code not in call.request_body + call.response_body + call.url
    assert service.check_code(PHONE, code) is True

    client.force_login(UserFactory(is_staff=True, is_superuser=True))
    for url in (
        "/admin/subscriptions/outboundmessage/",
        f"/admin/subscriptions/outboundmessage/{message.pk}/change/",
    ):
        assert code not in client.get(url).content.decode()


def test_a_queued_code_is_sealed_until_the_worker_sends_it(sfmc_account):
    code = ShortCodeFactory(provider=sfmc_account)
    message = messages.queue_text(
        PHONE, code, "Acme: code 654321", "one_time_code", secret="654321"
    )
    message.refresh_from_db()
    assert "654321" not in message.text + message.sealed_text
    assert messages.unsealed(message) == ("Acme: code 654321", "654321")


def test_the_console_providers_demo_outbox_keeps_the_text():
    keyword = KeywordFactory(word="DEALS")
    services.opt_in(PHONE, keyword, Context(source="mo"))
    service.send_code(PHONE, "en")
    message = OutboundMessage.objects.get(purpose=MessagePurpose.ONE_TIME_CODE)
    assert re.search(r"\b\d{6}\b", message.text)
