"""The webhook admin: the secret shown once on creation and on rotation, redeliver, and the
same permissions as the API (Marketing and Compliance read; change permission writes)."""

import pytest
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.contrib.auth.models import Group, Permission

from subscriptions.models import WebhookDelivery, WebhookEndpoint
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


def staff(client, *, group=None, perms=()):
    user = UserFactory(is_staff=True)
    if group:
        user.groups.add(Group.objects.get(name=group))
    user.user_permissions.add(
        *Permission.objects.filter(content_type__app_label="subscriptions", codename__in=perms)
    )
    client.force_login(user)
    return user


@pytest.fixture
def writer(client):
    return staff(
        client, perms=["view_webhookendpoint", "change_webhookendpoint", "view_webhookdelivery"]
    )


def test_add_shows_the_secret_once(client, writer, allow_private, receiver):
    answer = client.post(
        "/admin/subscriptions/webhookendpoint/add/",
        {"url": receiver.url + "/in", "events": ["consent.changed"], "is_active": "on"},
    )
    assert answer.status_code == 200
    endpoint = WebhookEndpoint.objects.get()
    (secret,) = endpoint.signing_secrets()
    assert secret in answer.content.decode()
    page = client.get(f"/admin/subscriptions/webhookendpoint/{endpoint.pk}/change/")
    assert page.status_code == 200 and secret not in page.content.decode()


def test_an_unsafe_url_or_unknown_event_is_refused_by_the_form(client, writer):
    answer = client.post(
        "/admin/subscriptions/webhookendpoint/add/",
        {"url": "https://localhost/in", "events": ["consent.changed"]},
    )
    assert answer.status_code == 200 and "loopback" in answer.content.decode()
    answer = client.post(
        "/admin/subscriptions/webhookendpoint/add/",
        {"url": "http://example.com/in", "events": ["nope"]},
    )
    assert answer.status_code == 200
    assert not WebhookEndpoint.objects.exists()


def test_rotate_action_shows_the_new_secret(client, writer, endpoint):
    endpoint, old = endpoint
    answer = client.post(
        "/admin/subscriptions/webhookendpoint/",
        {"action": "rotate_secret", ACTION_CHECKBOX_NAME: [endpoint.pk]},
    )
    endpoint.refresh_from_db()
    new, previous = endpoint.signing_secrets()
    assert previous == old and new in answer.content.decode()


def test_redeliver_action(client, writer, endpoint, receiver, opt_in, committed):
    opt_in()
    delivery = WebhookDelivery.objects.get()
    with committed():
        client.post(
            "/admin/subscriptions/webhookdelivery/",
            {"action": "redeliver", ACTION_CHECKBOX_NAME: [delivery.pk]},
        )
    assert len(receiver.requests) == 2
    page = client.get(f"/admin/subscriptions/webhookdelivery/{delivery.pk}/change/")
    assert page.status_code == 200 and delivery.event.msg_id in page.content.decode()


@pytest.mark.parametrize("group", ["Marketing", "Compliance"])
def test_marketing_and_compliance_read_only(client, group, endpoint, receiver, opt_in):
    endpoint, _ = endpoint
    opt_in()
    staff(client, group=group)
    assert client.get("/admin/subscriptions/webhookendpoint/").status_code == 200
    assert client.get("/admin/subscriptions/webhookdelivery/").status_code == 200
    for url in (
        "/admin/subscriptions/webhookendpoint/add/",
        f"/admin/subscriptions/webhookendpoint/{endpoint.pk}/delete/",
    ):
        assert client.get(url).status_code == 403, url
    client.post(
        f"/admin/subscriptions/webhookendpoint/{endpoint.pk}/change/",
        {"url": endpoint.url, "events": ["consent.changed"]},  # would switch it off
    )
    client.post(
        "/admin/subscriptions/webhookdelivery/",
        {"action": "redeliver", ACTION_CHECKBOX_NAME: [WebhookDelivery.objects.get().pk]},
    )
    assert WebhookEndpoint.objects.get().is_active
    assert len(receiver.requests) == 1


def test_a_disabled_endpoint_is_shown_to_staff(client, writer, endpoint):
    endpoint, _ = endpoint
    WebhookEndpoint.objects.filter(pk=endpoint.pk).update(
        is_active=False, disabled_at=endpoint.created_at, disabled_reason="failing since 24 hours"
    )
    page = client.get("/admin/subscriptions/webhookendpoint/")
    assert "was disabled on" in page.content.decode()
