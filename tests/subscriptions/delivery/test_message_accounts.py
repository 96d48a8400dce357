"""Texts to people (delivery/messages.py): what the worker does with a queued text."""

import pytest

from subscriptions.delivery import messages
from subscriptions.models import MessageStatus, ProviderCall
from tests.factories import ShortCodeFactory

pytestmark = pytest.mark.django_db
PHONE = "+15555550123"


def test_a_text_on_a_disabled_account_fails_for_good_and_calls_nobody(sfmc, sfmc_account):
    code = ShortCodeFactory(provider=sfmc_account)
    message = messages.queue_text(PHONE, code, "Acme: reply HELP for help", "reply")
    sfmc_account.is_active = False
    sfmc_account.save()

    messages.deliver_message(message.pk)

    message.refresh_from_db()
    assert message.status == MessageStatus.FAILED
    assert "inactive" in message.last_error
    assert sfmc.rest_calls() == []
    assert not ProviderCall.objects.filter(message=message).exists()


def test_a_text_on_an_active_account_is_sent(sfmc, sfmc_account):
    sfmc_account.settings = {**sfmc_account.settings, "send_message_key": "MSG-TXT"}
    sfmc_account.save()
    code = ShortCodeFactory(provider=sfmc_account)
    message = messages.queue_text(PHONE, code, "Acme: reply HELP for help", "reply")

    messages.deliver_message(message.pk)

    message.refresh_from_db()
    assert message.status == MessageStatus.SENT
    assert [path for path, _body in sfmc.rest_calls() if "messageContact" in path]
