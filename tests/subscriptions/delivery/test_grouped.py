"""Batch delivery where the provider accepts it: the code-wide STOPs of an import share
SFMC queueMO calls (up to 250 numbers each); anything else is delivered row by row."""

import pytest
from django.db import transaction

from subscriptions.consent import services
from subscriptions.consent.batch import BatchRow, apply_batch
from subscriptions.consent.services import Context
from subscriptions.delivery import grouped
from subscriptions.models import ProviderSync, SyncStatus
from tests.subscriptions.conftest import programs

pytestmark = pytest.mark.django_db

PHONES = [f"+1555666{n:04d}" for n in range(3)]


def stop_calls(sfmc):
    return [
        body for path, body in sfmc.rest_calls() if path.endswith("queueMO") and "STOP" in str(body)
    ]


def test_an_imports_stops_share_one_queue_mo_call(sfmc, sfmc_account, committed):
    code, (deals,) = programs(sfmc_account, "DEALS")
    for phone in PHONES:  # told to SFMC: their import opt-outs go by STOP
        with committed():
            services.opt_in(phone, deals, Context(source="api"))
    fresh = "+15556669999"  # never told: stays local (no text), listed for SFMC's import

    with committed(), transaction.atomic():
        rows = [BatchRow(phone, deals, subscribe=False) for phone in [*PHONES, fresh]]
        apply_batch(rows, Context(source="import", actor_label="file.csv"))

    assert stop_calls(sfmc) == [
        {
            "shortCode": code.code,
            "messageText": "STOP",
            "mobileNumbers": [p.lstrip("+") for p in PHONES],
        }
    ]
    assert all(sfmc.state[(p.lstrip("+"), "DEALS")] is False for p in PHONES)
    last = {
        row.contact.phone: row
        for row in ProviderSync.objects.order_by("id").select_related("contact")
    }
    assert {last[p].status for p in PHONES} == {SyncStatus.SUCCEEDED}
    assert "one call for 3 numbers" in last[PHONES[0]].detail
    assert last[fresh].status == SyncStatus.LOCAL_ONLY


def test_a_failed_group_call_leaves_every_row_to_retry_together(sfmc, sfmc_account, committed):
    _code, (deals,) = programs(sfmc_account, "DEALS")
    for phone in PHONES:
        with committed():
            services.opt_in(phone, deals, Context(source="api"))
    sfmc.fail(1, status=503)  # the grouped STOP (after the token)
    sfmc.fault_paths = {"/sms/v1/queueMO"}

    with committed(), transaction.atomic():
        apply_batch(
            [BatchRow(phone, deals, subscribe=False) for phone in PHONES],
            Context(source="import", actor_label="file.csv"),
        )

    waiting = ProviderSync.objects.filter(status=SyncStatus.PENDING)
    assert waiting.count() == 3 and all("503" in row.last_error for row in waiting)
    ids = list(waiting.values_list("pk", flat=True))

    assert grouped.deliver_group(ids) == 1  # the retry: one call again for the three
    assert len(stop_calls(sfmc)) == 2
    assert set(ProviderSync.objects.filter(pk__in=ids).values_list("status", flat=True)) == {
        SyncStatus.SUCCEEDED
    }
