"""The HTTP base of the adapters: which failures may have reached the provider."""

import base64
import json
import socket
from urllib.parse import quote, quote_plus, urlencode

import pytest

from subscriptions.models import ProviderCall
from subscriptions.providers.base import HttpAdapter, RetryableError, redact
from tests.factories import ProviderAccountFactory

pytestmark = pytest.mark.django_db


def adapter(read_timeout=10):
    account = ProviderAccountFactory(settings={"connect_timeout": 5, "read_timeout": read_timeout})
    return HttpAdapter(account)


def failure(url, **settings):
    with pytest.raises(RetryableError) as caught:
        adapter(**settings).call("POST", url, json={"a": 1})
    return caught.value


def closed_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]  # nothing listens once the socket is closed


def test_a_refused_connection_sent_nothing():
    error = failure(f"http://127.0.0.1:{closed_port()}/x")
    assert "cannot reach" in str(error)
    assert error.maybe_applied is False
    assert ProviderCall.objects.get().status_code is None


def test_a_read_timeout_may_have_been_applied(skycore):
    skycore.hang(1, seconds=30)
    error = failure(skycore.api_url, read_timeout=0.5)
    assert "timeout calling" in str(error)
    assert error.maybe_applied is True


def test_a_connection_dropped_before_the_answer_may_have_been_applied(skycore):
    skycore.hold(1)
    error = failure(skycore.api_url)
    assert "cannot reach" in str(error)
    assert error.maybe_applied is True


@pytest.mark.parametrize(("status", "maybe_applied"), [(500, True), (503, True), (429, False)])
def test_a_5xx_may_have_been_applied_a_rate_limit_was_not(skycore, status, maybe_applied):
    skycore.fail(1, status=status, headers={"Retry-After": "7"})
    error = failure(skycore.api_url)
    assert error.maybe_applied is maybe_applied
    assert error.retry_after == 7


# Issue 16: every encoding of a secret is redacted --------------------------------------------


def test_redact_masks_a_secret_in_every_encoding():
    secret = "p%&+=/ \"'\\x"
    samples = [
        secret,
        urlencode({"p": secret}),
        quote(secret, safe=""),
        quote(secret, safe="").lower(),
        json.dumps({"q": secret}),
        "<KEY>" + secret.replace("&", "&amp;") + "</KEY>",
        urlencode({"xml": "<KEY>" + secret.replace("&", "&amp;") + "</KEY>"}),
        "Authorization: Basic " + base64.b64encode(f"user:{secret}".encode()).decode(),
        repr({"p": secret}),
    ]
    for text in samples:
        masked = redact(text, [secret])
        assert "[redacted]" in masked, text
        assert secret not in masked and quote_plus(secret) not in masked
    assert redact("Basic dXNlcjpvdGhlcg==", [secret]) == "Basic dXNlcjpvdGhlcg=="
