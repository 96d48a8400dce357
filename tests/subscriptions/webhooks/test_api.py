"""The webhooks API (docs/api.md "Outbound webhooks"): the secret shown once, bad input a
400 {detail, code} that changes nothing, deliveries and redeliver, permissions."""

import base64

import pytest
from django.contrib.auth.models import Group
from rest_framework.test import APIClient

from subscriptions.models import WebhookDelivery, WebhookEndpoint
from tests.subscriptions.api.conftest import token_client
from tests.subscriptions.webhooks.conftest import PUBLIC_IP

pytestmark = pytest.mark.django_db

WRITER = ["view_webhookendpoint", "change_webhookendpoint"]


@pytest.fixture
def writer():
    return token_client(*WRITER)


def group_client(name):
    client = token_client()
    client.user.groups.add(Group.objects.get(name=name))
    return client


@pytest.fixture
def public_dns(fake_dns):
    fake_dns({"crm.example.com": [PUBLIC_IP], "inside.example.com": ["10.0.0.5"]})


def create(client, **body):
    body = {"url": "https://crm.example.com/hooks", "events": ["consent.changed"], **body}
    return client.post("/api/v1/webhooks/", body, format="json")


def test_create_shows_the_secret_once(writer, public_dns):
    answer = create(writer, description="CRM")
    assert answer.status_code == 201, answer.json()
    body = answer.json()
    assert body["secret"].startswith("whsec_")
    assert len(base64.b64decode(body["secret"].removeprefix("whsec_"))) == 32
    assert {k: body[k] for k in ("url", "events", "description", "is_active")} == {
        "url": "https://crm.example.com/hooks",
        "events": ["consent.changed"],
        "description": "CRM",
        "is_active": True,
    }
    shown = writer.get(f"/api/v1/webhooks/{body['id']}/").json()
    assert shown["secret"] is None
    assert writer.get("/api/v1/webhooks/").json()[0]["secret"] is None
    stored = WebhookEndpoint.objects.get()
    assert body["secret"] not in stored.secret_encrypted
    assert stored.signing_secrets() == [body["secret"]]


@pytest.mark.parametrize(
    "body, code",
    [
        ({"events": ["consent.exploded"]}, "unknown_event_type"),
        ({"events": []}, "invalid"),
        ({"events": "consent.changed"}, "invalid"),
        ({"url": "http://crm.example.com/hooks"}, "scheme"),
        ({"url": "ftp://crm.example.com/hooks"}, "scheme"),
        ({"url": "https://inside.example.com/hooks"}, "unsafe_address"),
        ({"url": "https://localhost/hooks"}, "unsafe_address"),
        ({"url": "not a url"}, "scheme"),
    ],
)
def test_bad_input_is_a_400_in_the_error_shape_and_changes_nothing(writer, public_dns, body, code):
    answer = create(writer, **body)
    assert answer.status_code == 400
    assert set(answer.json()) == {"detail", "code"}
    assert answer.json()["code"] == code
    assert not WebhookEndpoint.objects.exists()


def test_change_and_delete(writer, public_dns):
    pk = create(writer).json()["id"]
    answer = writer.patch(
        f"/api/v1/webhooks/{pk}/",
        {"events": ["consent.changed", "revocation.received"], "is_active": False},
        format="json",
    )
    assert answer.status_code == 200
    assert answer.json()["events"] == ["consent.changed", "revocation.received"]
    assert answer.json()["secret"] is None
    bad = writer.patch(
        f"/api/v1/webhooks/{pk}/", {"url": "https://inside.example.com/"}, format="json"
    )
    assert (bad.status_code, bad.json()["code"]) == (400, "unsafe_address")
    assert WebhookEndpoint.objects.get().url == "https://crm.example.com/hooks"
    assert writer.delete(f"/api/v1/webhooks/{pk}/").status_code == 204
    assert not WebhookEndpoint.objects.exists()


def test_rotate_secret_shows_the_new_one(writer, public_dns):
    created = create(writer).json()
    answer = writer.post(
        f"/api/v1/webhooks/{created['id']}/rotate-secret/", {"grace_hours": 2}, format="json"
    )
    assert answer.status_code == 200
    new = answer.json()["secret"]
    assert new.startswith("whsec_") and new != created["secret"]
    assert answer.json()["rotation_ends_at"]
    assert WebhookEndpoint.objects.get().signing_secrets() == [new, created["secret"]]


def test_deliveries_and_redeliver(allow_private, receiver, opt_in, committed):
    client = token_client(*WRITER)
    with committed():
        pk = create(client, url=receiver.url + "/in").json()["id"]
    opt_in()
    (row,) = client.get(f"/api/v1/webhooks/{pk}/deliveries/").json()
    assert {k: row[k] for k in ("event_type", "status", "attempts", "last_status_code")} == {
        "event_type": "consent.changed",
        "status": "delivered",
        "attempts": 1,
        "last_status_code": 200,
    }
    assert row["created_at"] and row["delivered_at"]
    with committed():
        answer = client.post(f"/api/v1/webhooks/{pk}/deliveries/{row['id']}/redeliver/")
    assert answer.status_code == 202
    assert len(receiver.requests) == 2
    assert receiver.requests[0].headers["webhook-id"] == receiver.requests[1].headers["webhook-id"]
    assert client.post(f"/api/v1/webhooks/{pk}/deliveries/999999/redeliver/").status_code == 404
    assert client.get(f"/api/v1/webhooks/{pk}/deliveries/?status=bogus").status_code == 400


@pytest.mark.parametrize("group", ["Marketing", "Compliance"])
def test_marketing_and_compliance_read_but_do_not_write(public_dns, writer, group):
    pk = create(writer).json()["id"]
    client = group_client(group)
    assert client.get("/api/v1/webhooks/").status_code == 200
    assert client.get(f"/api/v1/webhooks/{pk}/deliveries/").status_code == 200
    assert create(client).status_code == 403
    assert (
        client.patch(f"/api/v1/webhooks/{pk}/", {"is_active": False}, format="json").status_code
        == 403
    )
    assert client.delete(f"/api/v1/webhooks/{pk}/").status_code == 403
    assert client.post(f"/api/v1/webhooks/{pk}/rotate-secret/").status_code == 403
    assert WebhookEndpoint.objects.get().is_active


def test_redeliver_needs_the_change_permission(public_dns, writer):
    pk = create(writer).json()["id"]
    reader = group_client("Compliance")
    assert reader.post(f"/api/v1/webhooks/{pk}/deliveries/1/redeliver/").status_code == 403
    assert not WebhookDelivery.objects.exists()


def test_no_token_no_access():
    assert APIClient().get("/api/v1/webhooks/").status_code == 401
