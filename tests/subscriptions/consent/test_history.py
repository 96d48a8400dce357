"""The consent history is append-only: the ORM refuses, and on PostgreSQL so does the
database itself, whatever client connects."""

import pytest
from django.db import DatabaseError, connection, transaction

from subscriptions.common.errors import AppendOnlyViolation
from subscriptions.consent import services
from subscriptions.consent.services import Context
from subscriptions.models import Source, SubscriptionEvent
from tests.factories import KeywordFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def event():
    services.opt_in(
        "+15555551212", KeywordFactory(), Context(source=Source.WEB, consent_text="Yes")
    )
    return SubscriptionEvent.objects.get()


def test_model_refuses_update_and_delete(event):
    event.consent_text = "rewritten"
    with pytest.raises(AppendOnlyViolation):
        event.save()
    with pytest.raises(AppendOnlyViolation):
        event.delete()
    assert SubscriptionEvent.objects.get().consent_text == "Yes"


@pytest.mark.parametrize(
    "operation",
    [
        lambda qs: qs.update(consent_text="rewritten"),
        lambda qs: qs.delete(),
        lambda qs: qs.bulk_update(list(qs), ["consent_text"]),
        lambda qs: qs.update_or_create(id=qs.first().id, defaults={"consent_text": "x"}),
    ],
)
def test_queryset_refuses_update_and_delete(event, operation):
    with pytest.raises(AppendOnlyViolation):
        operation(SubscriptionEvent.objects.all())
    assert SubscriptionEvent.objects.get().consent_text == "Yes"


@pytest.mark.postgres
@pytest.mark.parametrize(
    "sql",
    [
        "UPDATE subscriptions_subscriptionevent SET consent_text = 'rewritten'",
        "DELETE FROM subscriptions_subscriptionevent",
    ],
)
def test_postgres_trigger_refuses_raw_sql(event, sql):
    with (
        pytest.raises(DatabaseError, match="append-only"),
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        cursor.execute(sql)
    assert SubscriptionEvent.objects.get().consent_text == "Yes"


def test_cascading_deletes_are_blocked_by_protect(event):
    from django.db.models import ProtectedError

    with pytest.raises(ProtectedError):
        event.contact.delete()
    assert SubscriptionEvent.objects.count() == 1
