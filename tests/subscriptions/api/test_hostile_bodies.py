"""Issue 16: no body a client can send is a 500. Deeply nested or huge JSON on every JSON
endpoint, oversized bodies: 4xx in the API's error shape {detail, code}."""

import io
from functools import partial

import pytest

from subscriptions.api.parsers import MAX_DEPTH, BoundedJSONParser, TooDeep
from subscriptions.models import SubscriptionEvent
from tests.factories import ProviderAccountFactory
from tests.subscriptions.api.conftest import STAFF_PERMS, token_client

pytestmark = pytest.mark.django_db

JSON_ENDPOINTS = [
    ("post", "/api/v1/opt-ins/"),
    ("post", "/api/v1/opt-outs/"),
    ("post", "/api/v1/inbound/"),
    ("post", "/api/v1/sendable/"),
    ("post", "/api/v1/providers/"),
    ("patch", "/api/v1/providers/{provider}/"),
    ("post", "/api/v1/short-codes/"),
    ("patch", "/api/v1/short-codes/12345/"),
    ("post", "/api/v1/short-codes/12345/keywords/"),
    ("patch", "/api/v1/short-codes/12345/keywords/JOIN/"),
]


@pytest.fixture
def api(code):
    return token_client(*STAFF_PERMS, "submit_inbound")


@pytest.fixture
def provider(db):
    return ProviderAccountFactory(kind="skycore")


def send(api, method, url, body, provider, **extra):
    url = url.format(provider=provider.pk)
    return getattr(api, method)(url, data=body, content_type="application/json", **extra)


def assert_error_shape(response, status):
    assert response.status_code == status, response.content[:300]
    assert response["Content-Type"].startswith("application/json")
    body = response.json()
    assert set(body) == {"detail", "code"}, body


@pytest.mark.parametrize(("method", "url"), JSON_ENDPOINTS)
@pytest.mark.parametrize("depth", [50, 100_000])
def test_deeply_nested_json_is_400_too_deep(api, provider, method, url, depth):
    body = "[" * depth + "]" * depth
    response = send(api, method, url, body, provider)
    assert_error_shape(response, 400)
    assert response.json()["code"] == "too_deep"


@pytest.mark.parametrize(("method", "url"), JSON_ENDPOINTS)
def test_nested_values_inside_fields_are_400_too_deep(api, provider, method, url):
    nested = '{"a":' * 40 + "1" + "}" * 40
    body = f'{{"phone": "15555551212", "settings": {nested}, "text": {nested}}}'
    response = send(api, method, url, body, provider)
    assert_error_shape(response, 400)


@pytest.mark.parametrize(("method", "url"), JSON_ENDPOINTS)
def test_a_body_over_the_upload_limit_is_413_too_large(api, provider, method, url, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 10_000
    body = '{"phone": "' + "1" * 20_000 + '"}'
    response = send(api, method, url, body, provider)
    assert_error_shape(response, 413)
    assert response.json()["code"] == "too_large"
    assert not SubscriptionEvent.objects.exists()


def test_a_huge_flat_json_body_at_the_default_limit_is_413(api, provider):
    body = '{"phone": "' + "1" * (3 * 1024 * 1024) + '"}'
    assert_error_shape(send(api, "post", "/api/v1/opt-ins/", body, provider), 413)


def test_an_oversized_form_body_on_the_api_is_json_not_html(api, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000
    response = api.post(
        "/api/v1/opt-ins/",
        data="phone=" + "1" * 5000,
        content_type="application/x-www-form-urlencoded",
    )
    assert response.status_code in (413, 415)
    assert set(response.json()) == {"detail", "code"}


@pytest.mark.parametrize(
    ("body", "too_deep"),
    [
        ("[" * MAX_DEPTH + "]" * MAX_DEPTH, False),
        ("[" * (MAX_DEPTH + 1) + "]" * (MAX_DEPTH + 1), True),
        ('{"a": ' * (MAX_DEPTH + 1) + "1" + "}" * (MAX_DEPTH + 1), True),
        # Brackets inside strings count toward the cheap check, not toward the depth.
        ('{"phones": ["' + "[{" * 50 + '"]}', False),
    ],
)
def test_the_parser_refuses_exactly_what_nests_past_the_limit(body, too_deep):
    parse = partial(BoundedJSONParser().parse, io.BytesIO(body.encode()))
    if too_deep:
        with pytest.raises(TooDeep):
            parse()
    else:
        assert parse() is not None
