"""The single-statement writes of the hot paths (consent/upserts.py): what each returns, and
that the row it leaves is the one the read-then-write code it replaced would have left."""

import pytest
from django.db import connection, transaction
from django.db.transaction import TransactionManagementError
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from subscriptions.consent import upserts
from subscriptions.models import Contact, InboundReceipt, ShortCodeStop, Source
from tests.factories import ShortCodeFactory

pytestmark = pytest.mark.django_db

PHONE = "+15555550142"
ON_POSTGRESQL = connection.vendor == "postgresql"


def test_locked_contact_creates_a_new_number_in_one_statement():
    with CaptureQueriesContext(connection) as queries, transaction.atomic():
        contact, created = upserts.locked_contact(PHONE)
    assert [q["sql"].split()[0] for q in queries if "SAVEPOINT" not in q["sql"]] == ["INSERT"]
    assert Contact.objects.get(phone=PHONE).pk == contact.pk
    assert contact.phone == PHONE and contact.locale == "" and contact.created_at is not None
    assert created is (True if ON_POSTGRESQL else None)


def test_locked_contact_returns_the_existing_row_unchanged():
    existing = Contact.objects.create(phone=PHONE, locale="es")
    with transaction.atomic():
        contact, created = upserts.locked_contact(PHONE)
    assert (contact.pk, contact.locale, contact.created_at) == (
        existing.pk,
        "es",  # the no-op update keeps what was there
        existing.created_at,
    )
    assert created is (False if ON_POSTGRESQL else None)
    assert Contact.objects.count() == 1


def test_a_contact_created_earlier_in_the_same_transaction_is_not_new_again():
    with transaction.atomic():
        first, _ = upserts.locked_contact(PHONE)
        again, created = upserts.locked_contact(PHONE)
    assert again.pk == first.pk
    assert created is (False if ON_POSTGRESQL else None)


@pytest.mark.django_db(transaction=True)  # no test transaction around it
def test_locked_contact_outside_a_transaction_is_refused():
    with pytest.raises(TransactionManagementError):
        upserts.locked_contact(PHONE)


def test_claim_receipt_is_true_once_then_counts_repeats():
    assert upserts.claim_receipt(Source.MO, "12345:m-1") is True
    assert upserts.claim_receipt(Source.MO, "12345:m-1") is False
    assert upserts.claim_receipt(Source.MO, "12345:m-1") is False
    assert upserts.claim_receipt(Source.POSTBACK, "12345:m-1") is True  # another source
    receipt = InboundReceipt.objects.get(source=Source.MO, external_id="12345:m-1")
    assert receipt.repeats == 2 and receipt.last_repeat_at is not None


def test_insert_stop_writes_one_active_stop_per_code():
    code = ShortCodeFactory()
    contact = Contact.objects.create(phone=PHONE)
    at = timezone.now()
    stop = upserts.insert_stop(contact, code, at, Source.MO)
    assert ShortCodeStop.objects.get() == stop
    assert (stop.created_at, stop.latest_at, stop.source, stop.cleared_at) == (
        at,
        at,
        Source.MO,
        None,
    )
    assert upserts.insert_stop(contact, code, timezone.now(), Source.WEB) is None
    ShortCodeStop.objects.filter(pk=stop.pk).update(cleared_at=timezone.now())
    assert upserts.insert_stop(contact, code, timezone.now(), Source.WEB) is not None
    assert ShortCodeStop.objects.filter(contact=contact, cleared_at__isnull=True).count() == 1
