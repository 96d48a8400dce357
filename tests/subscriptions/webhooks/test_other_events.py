"""revocation.received, revocation.decided and reconciliation.drift: written from the
signals other capabilities send (consent/signals.py), with whatever attributes their
objects have. Simple stand-in objects are sent through the real signals here."""

from datetime import UTC, datetime
from types import SimpleNamespace

import pytest

from subscriptions.consent.signals import drift_found, revocation_decided, revocation_received
from subscriptions.models import WebhookDelivery, WebhookEvent
from subscriptions.webhooks import payloads, service
from tests.factories import KeywordFactory
from tests.subscriptions.webhooks.conftest import PHONE

pytestmark = pytest.mark.django_db

RECEIVED = datetime(2026, 11, 30, 15, 0, tzinfo=UTC)


@pytest.fixture
def all_events(allow_private, receiver):
    return service.create_endpoint(
        url=receiver.url + "/in",
        events=["revocation.received", "revocation.decided", "reconciliation.drift"],
    )


class Broken:
    """An object whose attributes fail to load (a missing relation)."""

    id = 9

    @property
    def status(self):
        raise LookupError("relation not loaded")


def test_revocation_received_is_delivered_with_its_attributes(all_events, receiver, committed):
    _endpoint, secret = all_events
    revocation = SimpleNamespace(
        id=41,
        phone=PHONE,
        channel="email",
        status="open",
        text="please stop texting me",
        received_at=RECEIVED,
        due_by=RECEIVED.date(),
        scope=["12345", "67890"],
        unrelated="not sent",
    )
    with committed():
        revocation_received.send(sender=object, revocation=revocation)
    (request,) = receiver.requests
    body = receiver.verified(secret, request)
    assert body["type"] == "revocation.received"
    assert body["data"] == {
        "id": 41,
        "phone": PHONE,
        "channel": "email",
        "status": "open",
        "text": "please stop texting me",
        "received_at": RECEIVED.isoformat(),
        "due_by": "2026-11-30",
        "scope": ["12345", "67890"],
    }
    assert WebhookEvent.objects.get().phone == PHONE  # ordered with the number's events


def test_revocation_decided_with_a_contact_instead_of_a_phone(all_events, receiver, committed):
    revocation = SimpleNamespace(
        id=42,
        contact=SimpleNamespace(phone=PHONE),
        status="applied",
        decision="revoke",
        short_code=SimpleNamespace(code="12345"),
    )
    with committed():
        revocation_decided.send(sender=object, revocation=revocation)
    data = receiver.requests[0].json["data"]
    assert receiver.requests[0].json["type"] == "revocation.decided"
    assert data["phone"] == PHONE and data["decision"] == "revoke" and data["id"] == 42
    assert data["short_code"] == "12345"  # a related object is named by its code


def test_reconciliation_drift_is_delivered(all_events, receiver, committed):
    drift = SimpleNamespace(
        id=7,
        phone=PHONE,
        short_code="12345",
        keyword="DEALS",
        portal="out",
        provider="in",
        action="opt_out_sent",
    )
    with committed():
        drift_found.send(sender=object, drift=drift)
    body = receiver.requests[0].json
    assert body["type"] == "reconciliation.drift"
    assert body["data"] == {
        "id": 7,
        "phone": PHONE,
        "short_code": "12345",
        "keyword": "DEALS",
        "portal": "out",
        "provider": "in",
        "action": "opt_out_sent",
    }


def test_a_failing_or_missing_attribute_is_left_out_not_fatal(all_events, receiver, committed):
    with committed():
        drift_found.send(sender=object, drift=Broken())
        revocation_received.send(sender=object, revocation=Broken())
    assert [r.json["data"] for r in receiver.requests] == [{"id": 9}, {"id": 9}]
    assert set(WebhookEvent.objects.values_list("phone", flat=True)) == {""}


def test_model_values_become_their_names():
    keyword = KeywordFactory(word="DEALS")
    account = keyword.short_code.provider
    drift = SimpleNamespace(keyword=keyword, short_code=keyword.short_code, account=account)
    assert payloads.drift(drift) == {
        "keyword": "DEALS",
        "short_code": keyword.short_code.code,
        "provider_account": account.pk,
    }


def test_consent_only_endpoints_get_none_of_these(allow_private, receiver, committed):
    service.create_endpoint(url=receiver.url + "/in", events=["consent.changed"])
    with committed():
        drift_found.send(sender=object, drift=SimpleNamespace(id=1, phone=PHONE))
    assert receiver.requests == [] and not WebhookDelivery.objects.exists()
