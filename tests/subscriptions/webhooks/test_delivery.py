"""consent.changed reaches a real receiver, signed so that the standardwebhooks library's
own verifier accepts it; retried with the same webhook-id; ordered per number."""

from datetime import timedelta

import pytest
from django.db import transaction
from standardwebhooks import Webhook
from standardwebhooks.webhooks import WebhookVerificationError

from subscriptions.consent import services
from subscriptions.consent.services import Context
from subscriptions.models import SubscriptionEvent, WebhookDelivery, WebhookEvent
from subscriptions.webhooks import service, worker
from tests.subscriptions.webhooks.conftest import OTHER, PHONE

pytestmark = pytest.mark.django_db


def test_a_consent_change_is_delivered_and_verifies_with_the_library(endpoint, receiver, opt_in):
    endpoint, secret = endpoint
    opt_in()
    (request,) = receiver.requests
    assert request.method == "POST" and request.path == "/hooks"
    body = receiver.verified(secret, request)
    event = SubscriptionEvent.objects.get()
    assert body["type"] == "consent.changed"
    assert body["data"] == {
        "event_id": event.pk,
        "phone": PHONE,
        "short_code": "12345",
        "keyword": "DEALS",
        "action": event.action,
        "old_status": None,
        "new_status": "opted_in",
        "source": "api",
        "occurred_at": event.occurred_at.isoformat(),
        "recorded_at": event.recorded_at.isoformat(),
    }
    assert request.headers["webhook-id"] == WebhookEvent.objects.get().msg_id
    assert request.headers["content-type"] == "application/json"
    delivery = WebhookDelivery.objects.get()
    assert (delivery.status, delivery.attempts, delivery.last_status_code) == ("delivered", 1, 200)
    # A wrong secret does not verify: the signature really is checked.
    with pytest.raises(WebhookVerificationError):
        Webhook("whsec_" + "QUJD" * 8).verify(request.body, request.headers)


def test_one_event_per_applied_history_event(endpoint, receiver, opt_in, opt_out):
    opt_in()
    opt_out()
    opt_out()  # already out: nothing applied, nothing sent
    applied = SubscriptionEvent.objects.filter(outcome="applied").order_by("id")
    sent = [r.json["data"]["event_id"] for r in receiver.requests]
    assert sent == list(applied.values_list("pk", flat=True))
    assert [r.json["data"]["new_status"] for r in receiver.requests] == ["opted_in", "opted_out"]


def test_written_in_the_changes_transaction_and_sent_only_after_commit(endpoint, receiver, program):
    with pytest.raises(RuntimeError), transaction.atomic():
        services.opt_in(PHONE, program, Context(source="api"))
        assert WebhookDelivery.objects.count() == 1  # in the same transaction
        raise RuntimeError("roll back")
    assert not WebhookEvent.objects.exists() and not WebhookDelivery.objects.exists()
    assert receiver.requests == []


def test_a_receiver_failing_twice_then_accepting_gets_the_event_again_with_the_same_id(
    endpoint, receiver, opt_in
):
    endpoint, secret = endpoint
    receiver.fail(times=2, status=503)
    opt_in()
    delivery = WebhookDelivery.objects.get()
    first_retry = delivery.next_attempt_at
    assert (delivery.status, delivery.attempts, delivery.last_status_code) == ("pending", 1, 503)
    worker.deliver(delivery.pk, now=first_retry - timedelta(seconds=1))  # not due yet
    assert len(receiver.requests) == 1
    worker.deliver(delivery.pk, now=first_retry)
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts) == ("pending", 2)
    assert delivery.next_attempt_at > first_retry  # backed off again
    worker.deliver(delivery.pk, now=delivery.next_attempt_at)
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts, delivery.last_status_code) == ("delivered", 3, 200)
    assert len(receiver.requests) == 3
    assert len({r.headers["webhook-id"] for r in receiver.requests}) == 1
    assert len({r.body for r in receiver.requests}) == 1
    for request in receiver.requests:
        receiver.verified(secret, request)


def test_backoff_grows_with_jitter_up_to_the_cap(settings):
    settings.PORTAL_WEBHOOKS_BACKOFF_SECONDS = 10
    settings.PORTAL_WEBHOOKS_BACKOFF_MAX_SECONDS = 100
    delays = [worker.backoff_seconds(n) for n in range(1, 10)]
    assert 5 <= delays[0] <= 10 and 10 <= delays[1] <= 20 and 20 <= delays[2] <= 40
    assert all(50 <= d <= 100 for d in delays[4:])
    assert worker.backoff_seconds(1, retry_after=1000) == 100  # Retry-After, capped


def test_a_later_event_of_a_number_waits_for_the_earlier_one(endpoint, receiver, opt_in, opt_out):
    receiver.fail(times=1, status=500)
    opt_in()  # fails, retried later
    opt_out()  # same number: waits
    opt_in(OTHER)  # another number: not held up
    first, second, other = WebhookDelivery.objects.order_by("id")
    assert (first.status, first.attempts) == ("pending", 1)
    assert (second.status, second.attempts) == ("pending", 0)
    assert other.status == "delivered"
    worker.deliver(first.pk, now=first.next_attempt_at)  # the retry goes on with the lane
    statuses = list(WebhookDelivery.objects.order_by("id").values_list("status", flat=True))
    assert statuses == ["delivered"] * 3
    mine = [r.json["data"] for r in receiver.requests if r.json["data"]["phone"] == PHONE]
    assert [d["new_status"] for d in mine] == ["opted_in", "opted_in", "opted_out"]


def test_after_the_last_attempt_it_is_failed_and_the_next_one_goes(
    endpoint, receiver, opt_in, opt_out, settings
):
    settings.PORTAL_WEBHOOKS_MAX_ATTEMPTS = 2
    receiver.fail(times=2, status=500)
    opt_in()
    opt_out()
    first, second = WebhookDelivery.objects.order_by("id")
    worker.deliver(first.pk, now=first.next_attempt_at)
    first.refresh_from_db()
    second.refresh_from_db()
    assert first.status == "failed" and "gave up after 2 attempts" in first.last_error
    assert (second.status, second.attempts) == ("delivered", 1)


def test_redeliver_sends_it_again_with_the_same_webhook_id(endpoint, receiver, opt_in, committed):
    opt_in()
    delivery = WebhookDelivery.objects.get()
    with committed():
        service.redeliver(delivery)
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts) == ("delivered", 1)
    assert len(receiver.requests) == 2
    assert receiver.requests[0].headers["webhook-id"] == receiver.requests[1].headers["webhook-id"]


def test_only_subscribed_active_endpoints_get_events(allow_private, receiver, opt_in):
    service.create_endpoint(url=receiver.url + "/a", events=["revocation.received"])
    service.create_endpoint(url=receiver.url + "/b", events=["consent.changed"], is_active=False)
    opt_in()
    assert receiver.requests == [] and not WebhookDelivery.objects.exists()


def test_an_endpoint_failing_for_a_day_is_disabled_staff_told_and_resumes_in_order(
    endpoint, receiver, opt_in, opt_out, mailoutbox, settings, committed
):
    settings.ADMINS = ["ops@example.com"]
    endpoint, _ = endpoint
    receiver.fail(times=3, status=500)
    opt_in()
    opt_out()
    first = WebhookDelivery.objects.order_by("id").first()
    endpoint.refresh_from_db()
    started = endpoint.failing_since
    assert started is not None and endpoint.is_active
    worker.deliver(first.pk, now=started + timedelta(hours=23))
    endpoint.refresh_from_db()
    assert endpoint.is_active and mailoutbox == []
    worker.deliver(first.pk, now=started + timedelta(hours=25))
    endpoint.refresh_from_db()
    assert not endpoint.is_active and endpoint.disabled_reason
    assert len(mailoutbox) == 1 and endpoint.url in mailoutbox[0].body
    # Disabled: its deliveries wait (not sent, not failed).
    worker.deliver(first.pk, now=started + timedelta(days=3))
    assert len(receiver.requests) == 3
    assert set(WebhookDelivery.objects.values_list("status", flat=True)) == {"pending"}
    with committed():
        service.update_endpoint(endpoint, is_active=True)
    statuses = list(WebhookDelivery.objects.order_by("id").values_list("status", flat=True))
    assert statuses == ["delivered", "delivered"]
    assert [r.json["data"]["new_status"] for r in receiver.requests[3:]] == [
        "opted_in",
        "opted_out",
    ]


def test_a_success_clears_the_failing_clock(endpoint, receiver, opt_in):
    endpoint, _ = endpoint
    receiver.fail(times=1, status=500)
    opt_in()
    endpoint.refresh_from_db()
    assert endpoint.failing_since is not None
    delivery = WebhookDelivery.objects.get()
    worker.deliver(delivery.pk, now=delivery.next_attempt_at)
    endpoint.refresh_from_db()
    assert endpoint.failing_since is None


def test_rotation_signs_with_both_secrets_during_the_grace_period(
    endpoint, receiver, opt_in, opt_out
):
    endpoint, old = endpoint
    new = service.rotate_secret(endpoint, grace_hours=24)
    assert new != old and new.startswith("whsec_")
    opt_in()
    (request,) = receiver.requests
    assert len(request.headers["webhook-signature"].split(" ")) == 2
    receiver.verified(old, request)
    receiver.verified(new, request)
    newest = service.rotate_secret(endpoint, grace_hours=0)  # no grace: only the new one
    opt_out()
    request = receiver.requests[-1]
    assert len(request.headers["webhook-signature"].split(" ")) == 1
    receiver.verified(newest, request)
    with pytest.raises(WebhookVerificationError):
        receiver.verified(new, request)


def test_secrets_are_encrypted_at_rest(endpoint):
    endpoint, secret = endpoint
    endpoint.refresh_from_db()
    stored = endpoint.secret_encrypted
    assert secret not in stored and secret.removeprefix("whsec_") not in stored
    assert endpoint.signing_secrets() == [secret]
