"""Claims of several rows at once (delivery/claims.py) and the lease a claimed row's call
must start within (worker.waited_too_long)."""

import pytest
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from subscriptions.consent import services
from subscriptions.consent.services import Context
from subscriptions.delivery import claims, policy, worker
from subscriptions.models import ProviderSync, SyncStatus
from tests.subscriptions.conftest import DIGITS, PHONE, programs

pytestmark = pytest.mark.django_db

DATABASE_QUEUE = {
    "default": {
        "BACKEND": "django_tasks_db.DatabaseBackend",
        "QUEUES": ["people", "default", "bulk"],
    }
}


def test_a_claimed_row_whose_call_would_start_late_goes_back_to_the_queue_uncalled(
    skycore, skycore_account, django_capture_on_commit_callbacks, clock, settings
):
    _code, (deals,) = programs(skycore_account, "DEALS")
    with django_capture_on_commit_callbacks(execute=False):
        services.opt_in(PHONE, deals, Context(source="api"))
    row, rec = worker.claim(ProviderSync.objects.get().pk, timezone.now())
    clock.advance(policy.lease().total_seconds() / 2 + 1)  # it waited for its turn
    settings.TASKS = DATABASE_QUEUE  # what it queues stays queued

    worker.deliver_claimed(row, rec)

    row.refresh_from_db()
    assert skycore.requests == []
    assert (row.status, row.attempts, row.locked_until) == (SyncStatus.PENDING, 0, None)
    assert row.state == {}  # what the provider is known to hold: nothing was sent
    queued = DBTaskResult.objects.get()
    assert (queued.task_path, queued.args_kwargs["args"]) == (
        "subscriptions.delivery.tasks.deliver_sync",
        [row.pk],
    )

    worker.deliver_sync(row.pk)
    assert skycore.calls() == [("subscribe", "ref-DEALS", DIGITS)]
    assert ProviderSync.objects.get().status == SyncStatus.SUCCEEDED


def test_one_claim_of_many_rows_takes_one_row_per_target_and_supersedes_the_rest(
    skycore, skycore_account, django_capture_on_commit_callbacks
):
    _code, (deals, news) = programs(skycore_account, "DEALS", "NEWS")
    other = "+15555550199"
    with django_capture_on_commit_callbacks(execute=False):
        services.opt_in(PHONE, deals, Context(source="api"))
        services.opt_in(PHONE, news, Context(source="api"))
        services.opt_in(other, deals, Context(source="api"))
    first, second, third = ProviderSync.objects.order_by("id")

    claimed = claims.claim_many([first.pk, second.pk, third.pk], timezone.now())

    assert [row.pk for row, _rec in claimed] == [first.pk, third.pk]
    statuses = dict(ProviderSync.objects.values_list("pk", "status"))
    assert statuses == {
        first.pk: SyncStatus.SENDING,
        second.pk: SyncStatus.SUPERSEDED,
        third.pk: SyncStatus.SENDING,
    }
    # The claimed row reconciles the target's current state: both programs, in flight.
    rec = claimed[0][1]
    assert rec.desired == {deals.pk: True, news.pk: True}
    assert ProviderSync.objects.get(pk=first.pk).state == {
        str(deals.pk): None,
        str(news.pk): None,
    }
