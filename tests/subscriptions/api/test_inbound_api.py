"""POST /api/v1/inbound/: MO texts relayed by an integration (docs/api.md)."""

import json

import pytest
from rest_framework.test import APIClient

from subscriptions.models import (
    Contact,
    MessageStatus,
    OutboundMessage,
    ShortCode,
    Source,
    Status,
    Subscription,
    SubscriptionEvent,
)
from tests.factories import KeywordFactory
from tests.subscriptions.api.conftest import token_client

pytestmark = pytest.mark.django_db

URL = "/api/v1/inbound/"


@pytest.fixture
def api():
    return token_client("submit_inbound")


def send(client, body):
    raw = json.dumps(body)
    return client.post(URL, data=raw, content_type="application/json"), raw


def test_a_program_keyword_opts_in_and_the_reply_is_returned_and_sent(api, code, deals, on_commit):
    with on_commit():
        response, raw = send(
            api, {"from": "16501112222", "to": "12345", "text": "Deals", "message_id": "abc-1"}
        )

    assert response.status_code == 200
    reply = "Acme: you joined Deals. Reply HELP for help, STOP to cancel."
    assert response.json() == {
        "action": "opt_in",
        "reply": reply,
        "duplicate": False,
        "changed": [{"keyword": "DEALS", "status": "opted_in"}],
    }
    assert Subscription.objects.get(contact__phone="+16501112222").status == Status.OPTED_IN
    message = OutboundMessage.objects.get()
    assert (message.phone, message.text, message.purpose, message.status) == (
        "+16501112222",
        reply,
        "reply",
        MessageStatus.SENT,
    )
    event = SubscriptionEvent.objects.get()
    assert (event.source, event.raw_payload, event.external_id) == (Source.MO, raw, "12345:abc-1")
    assert event.actor is not None


def test_stop_answers_stop_all_with_every_change(api, code, deals):
    news = KeywordFactory(short_code=code, word="NEWS")
    send(api, {"from": "+16501112222", "to": "12345", "text": "DEALS"})
    send(api, {"from": "+16501112222", "to": "12345", "text": news.word})

    response, _ = send(api, {"from": "(650) 111-2222", "to": "12345", "text": "stop"})

    body = response.json()
    assert (body["action"], body["reply"]) == (
        "stop_all",
        "Acme: you are unsubscribed and will receive no more messages.",
    )
    assert sorted(c["keyword"] for c in body["changed"]) == ["DEALS", "NEWS"]
    assert {c["status"] for c in body["changed"]} == {"opted_out"}


def test_the_same_message_id_twice_applies_once_and_replies_once(api, code, deals):
    body = {"from": "16501112222", "to": "12345", "text": "DEALS", "message_id": "m-9"}
    send(api, body)

    response, _ = send(api, body)

    assert response.status_code == 200
    assert response.json() == {"action": "opt_in", "reply": None, "changed": [], "duplicate": True}
    assert SubscriptionEvent.objects.count() == 1
    assert OutboundMessage.objects.count() == 1


def test_unknown_short_code_is_404_with_detail_and_code(api, deals):
    response, _ = send(api, {"from": "16501112222", "to": "99999", "text": "DEALS"})

    assert response.status_code == 404
    assert response.json()["code"] == "unknown_short_code"
    assert "99999" in response.json()["detail"]
    assert not Contact.objects.exists() and not OutboundMessage.objects.exists()


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"from": "12", "to": "12345", "text": "DEALS"}, "from"),
        ({"from": "not a phone", "to": "12345", "text": "DEALS"}, "from"),
        ({"to": "12345", "text": "DEALS"}, "from"),
        ({"from": "16501112222", "text": "DEALS"}, "to"),
        ({"from": "16501112222", "to": "12345"}, "text"),
        ({"from": "16501112222", "to": "12345", "text": "x" * 1601}, "text"),
        (
            {"from": "16501112222", "to": "12345", "text": "DEALS", "received_at": "soon"},
            "received_at",
        ),
        *(
            (
                {"from": "16501112222", "to": "12345", "text": "STOP", "received_at": when},
                "received_at",
            )
            for when in (
                "0001-01-01T00:00:00+14:00",
                "9999-12-31T23:59:59-14:00",
                "2100-01-01T00:00:00Z",
                "1970-01-01T00:00:00Z",
            )
        ),
        (
            {"from": "16501112222", "to": "12345", "text": "DEALS", "message_id": "m" * 151},
            "message_id",
        ),
        ({"from": ["16501112222"], "to": "12345", "text": "DEALS"}, "from"),
    ],
)
def test_bad_fields_are_400_naming_the_field_and_change_nothing(api, deals, body, field):
    response, _ = send(api, body)

    assert response.status_code == 400
    assert field in response.json()
    assert not Contact.objects.exists() and not SubscriptionEvent.objects.exists()


@pytest.mark.parametrize("raw", ["{not json", "[]", "null", '"text"'])
def test_malformed_json_is_400(api, deals, raw):
    response = api.post(URL, data=raw, content_type="application/json")

    assert response.status_code == 400
    assert not SubscriptionEvent.objects.exists()


def test_without_a_token_is_401(code, deals):
    response, _ = send(APIClient(), {"from": "16501112222", "to": "12345", "text": "DEALS"})

    assert response.status_code == 401
    assert not SubscriptionEvent.objects.exists()


def test_a_token_without_submit_inbound_is_403(code, deals):
    client = token_client("change_consent")

    response, _ = send(client, {"from": "16501112222", "to": "12345", "text": "DEALS"})

    assert response.status_code == 403
    assert "submit_inbound" in response.json()["detail"]
    assert not SubscriptionEvent.objects.exists()


def test_form_encoded_body_works_too(api, code, deals):
    response = api.post(URL, data={"from": "16501112222", "to": "12345", "text": "HELP"})

    assert response.status_code == 200
    assert response.json()["action"] == "help"
    assert SubscriptionEvent.objects.get().raw_payload.startswith("--")  # multipart, verbatim


def test_a_body_beyond_the_upload_limit_is_413_in_the_error_shape_not_500(api, deals):
    text = "x" * (3 * 1024 * 1024)

    response, _ = send(api, {"from": "16501112222", "to": "12345", "text": text})

    assert response.status_code == 413
    assert response.json()["code"] == "too_large"
    assert not SubscriptionEvent.objects.exists()


@pytest.mark.parametrize("stored", ["{brand}: bye {nope}", "{brand:>20000000}", "{brand"])
def test_a_stop_on_a_code_whose_stored_template_is_bad_still_applies(api, deals, stored):
    """A template saved before validation existed (written here past the model's clean) must
    never turn a STOP into a 500 and a rollback: the reply falls back to the default."""
    ShortCode.objects.filter(pk=deals.short_code_id).update(stop_text=stored)
    send(api, {"from": "16501112222", "to": "12345", "text": "DEALS"})

    response, _ = send(api, {"from": "16501112222", "to": "12345", "text": "STOP"})

    assert response.status_code == 200
    assert response.json()["action"] == "stop_all"
    assert response.json()["reply"] == (
        "Acme: you are unsubscribed and will receive no more messages."
    )
    assert Subscription.objects.get(contact__phone="+16501112222").status == Status.OPTED_OUT
