"""One client address everywhere (common/client.py): behind trusted proxies, the client."""

import pytest
from django.test import RequestFactory

from subscriptions.common.client import client_address
from subscriptions.models import SubscriptionEvent
from tests.factories import KeywordFactory, ShortCodeFactory
from tests.subscriptions.api.conftest import token_client


def request_from(remote, forwarded=None):
    meta = {"REMOTE_ADDR": remote}
    if forwarded is not None:
        meta["HTTP_X_FORWARDED_FOR"] = forwarded
    return RequestFactory().get("/", **meta)


@pytest.mark.parametrize(
    ("hops", "remote", "forwarded", "expected"),
    [
        (0, "203.0.113.9", None, "203.0.113.9"),
        (0, "10.0.0.2", "198.51.100.7", "10.0.0.2"),  # no trusted proxy: the header is ignored
        (1, "10.0.0.2", "198.51.100.7", "198.51.100.7"),
        (1, "10.0.0.2", "6.6.6.6, 198.51.100.7", "198.51.100.7"),  # the client's own value
        (2, "10.0.0.2", "6.6.6.6, 198.51.100.7, 10.0.0.3", "198.51.100.7"),
        (1, "10.0.0.2", "not-an-ip", "10.0.0.2"),
        (0, "", None, None),
        (0, "/run/gunicorn.sock", None, None),
        (1, "10.0.0.2", "2001:db8::1", "2001:db8::1"),
    ],
)
def test_client_address(settings, hops, remote, forwarded, expected):
    settings.PORTAL_PROXY_HOPS = hops
    assert client_address(request_from(remote, forwarded)) == expected


@pytest.mark.django_db
def test_an_api_change_behind_a_proxy_records_the_client_not_the_proxy(settings):
    settings.PORTAL_PROXY_HOPS = 1
    code = ShortCodeFactory(code="12345")
    KeywordFactory(short_code=code, word="DEALS")
    api = token_client("change_consent")
    response = api.post(
        "/api/v1/opt-ins/",
        {"phone": "+15555550100", "short_code": "12345", "keyword": "DEALS"},
        format="json",
        REMOTE_ADDR="10.0.0.2",
        HTTP_X_FORWARDED_FOR="198.51.100.7",
    )
    assert response.status_code in (200, 201), response.content
    assert SubscriptionEvent.objects.get().ip_address == "198.51.100.7"
