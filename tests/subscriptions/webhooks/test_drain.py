"""The drain: an endpoint's backlog goes out in batches, several numbers at once but never
two events of one number at once, over kept-alive connections; rows its lease would not
cover are given back; drains are enqueued per endpoint, not per delivery, and no more
than can be used."""

import threading
from datetime import timedelta

import pytest
from django.tasks.signals import task_enqueued
from django.test import override_settings
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from subscriptions.consent import services
from subscriptions.consent.services import Context
from subscriptions.models import SubscriptionEvent, WebhookDelivery
from subscriptions.webhooks import claims, outbox, service, sweep, tasks, worker
from tests.factories import KeywordFactory
from tests.subscriptions.webhooks.conftest import Receiver

pytestmark = pytest.mark.django_db
DATABASE_QUEUE = {
    "default": {
        "BACKEND": "django_tasks_db.DatabaseBackend",
        "QUEUES": ["people", "default", "bulk"],
    }
}
NUMBERS = [f"+1555555{i:04d}" for i in range(6)]


class LaneWatcher(Receiver):
    """Notes every time a number's request arrives while another of the same number is
    still unanswered, and how many requests were in flight at once."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.overlaps, self.most_at_once = [], 0
        self._open: dict[str, int] = {}
        self._all = 0
        self._watch = threading.Lock()

    def _answer(self, request):
        phone = request.json["data"]["phone"]
        with self._watch:
            if self._open.get(phone):
                self.overlaps.append(phone)
            self._open[phone] = self._open.get(phone, 0) + 1
            self._all += 1
            self.most_at_once = max(self.most_at_once, self._all)
        try:
            return super()._answer(request)
        finally:
            with self._watch:
                self._open[phone] -= 1
                self._all -= 1


@pytest.fixture
def watcher():
    with LaneWatcher(delay=0.02) as fake:
        yield fake


def changes_in_one_commit(committed, program, rounds=3):
    """Every number opted in, out and in again (three events each), all in one transaction:
    the first drain after the commit finds the whole backlog."""
    second = KeywordFactory(short_code=program.short_code, word="MORE")
    with committed():
        for _ in range(rounds):
            for phone in NUMBERS:
                services.opt_in(phone, program, Context(source="api"))
                services.opt_in(phone, second, Context(source="api"))
                services.opt_out(phone, program, Context(source="api"))


def test_a_backlog_goes_out_in_batches_numbers_in_parallel_each_in_order(
    allow_private, watcher, program, committed, settings
):
    settings.PORTAL_WEBHOOKS_BATCH = 4  # several batches, two in flight at once
    service.create_endpoint(url=watcher.url + "/in", events=["consent.changed"])
    changes_in_one_commit(committed, program)

    assert set(WebhookDelivery.objects.values_list("status", flat=True)) == {"delivered"}
    assert watcher.overlaps == []  # never two requests of one number at once
    assert watcher.most_at_once > 1  # but different numbers at once
    for phone in NUMBERS:
        history = list(
            SubscriptionEvent.objects.filter(contact__phone=phone, outcome="applied")
            .order_by("id")
            .values_list("pk", flat=True)
        )
        sent = [r.json["data"] for r in watcher.requests]
        sent = [data["event_id"] for data in sent if data["phone"] == phone]
        assert sent == history and len(history) > 3


def test_deliveries_reuse_a_kept_alive_connection(endpoint, receiver, opt_in, opt_out):
    accepted = []  # one entry per TCP connection the receiver accepted
    accept = receiver.server.process_request
    receiver.server.process_request = lambda *conn: (accepted.append(conn[1]), accept(*conn))
    for _ in range(3):
        opt_in()
        opt_out()
    assert len(receiver.requests) == 6
    assert len(accepted) == 1


def test_a_spent_time_budget_hands_over_to_a_new_drain(
    allow_private, watcher, program, committed, settings
):
    settings.PORTAL_WEBHOOKS_BATCH = 2
    settings.PORTAL_WEBHOOKS_DRAIN_SECONDS = 0  # every drain stops after its first record
    service.create_endpoint(url=watcher.url + "/in", events=["consent.changed"])
    enqueued = []

    def count(sender, task_result, **kwargs):
        if task_result.task.name == "deliver_endpoint":
            enqueued.append(task_result.args)

    task_enqueued.connect(count)
    try:
        changes_in_one_commit(committed, program, rounds=1)
    finally:
        task_enqueued.disconnect(count)
    assert set(WebhookDelivery.objects.values_list("status", flat=True)) == {"delivered"}
    assert len(watcher.requests) == WebhookDelivery.objects.count()
    assert len(enqueued) > len(NUMBERS)  # the commits' drains and their continuations


def test_rows_a_lease_no_longer_covers_are_given_back_unsent(endpoint, receiver, program, settings):
    endpoint, _ = endpoint
    for phone in NUMBERS[:2]:  # not committed: written, nothing enqueued
        services.opt_in(phone, program, Context(source="api"))
    batch = claims.claim_batch(endpoint.pk, timezone.now(), limit=10)
    assert [row.attempts for row in batch.rows] == [1, 1]
    batch.start_by = 0  # the lease ran out before the sender threads got to these rows
    answers = [future.result() for future in worker.start(batch)]
    assert answers == [None, None]
    claims.record(batch, answers, timezone.now())
    rows = WebhookDelivery.objects.order_by("id")
    assert [(r.status, r.attempts, r.locked_until) for r in rows] == [("pending", 0, None)] * 2
    assert receiver.requests == []


def test_a_batch_holds_only_lane_heads_and_skips_leased_rows(endpoint, program):
    endpoint, _ = endpoint
    for phone in NUMBERS[:2]:  # not committed: written, nothing enqueued
        services.opt_in(phone, program, Context(source="api"))
        services.opt_out(phone, program, Context(source="api"))
    now = timezone.now()
    first = claims.claim_batch(endpoint.pk, now, limit=10)
    assert sorted(row.phone for row in first.rows) == NUMBERS[:2]  # one row per number
    assert claims.claim_batch(endpoint.pk, now, limit=10) is None  # heads leased, rest behind
    later = now + timedelta(seconds=claims.lease_seconds() + 1)  # a killed worker's ran out
    again = claims.claim_batch(endpoint.pk, later, limit=10)
    assert [row.pk for row in again.rows] == [row.pk for row in first.rows]
    assert {row.attempts for row in again.rows} == {2}


@override_settings(TASKS=DATABASE_QUEUE, PORTAL_WEBHOOKS_BATCH=32, PORTAL_WEBHOOKS_DRAINS=4)
def test_drains_are_enqueued_per_endpoint_and_no_more_than_can_be_used(endpoint):
    endpoint, _ = endpoint

    def queued():
        return list(
            DBTaskResult.objects.filter(task_path=tasks.deliver_endpoint.module_path)
            .order_by("run_after")
            .values_list("args_kwargs__args", "run_after")
        )

    outbox.enqueue_drains({endpoint.pk: 100})  # a backlog: four drains can share it
    assert [args for args, _ in queued()] == [[endpoint.pk]] * 4
    outbox.enqueue_drains({endpoint.pk: 100})  # four still wait: they will see these rows
    outbox.enqueue_drains({endpoint.pk: 1})
    assert len(queued()) == 4
    DBTaskResult.objects.all().delete()
    outbox.enqueue_drains({endpoint.pk: 1})  # one change: one drain
    assert len(queued()) == 1

    DBTaskResult.objects.all().delete()
    retry = timezone.now() + timedelta(minutes=5)
    outbox.schedule_drain(endpoint.pk, retry)
    outbox.schedule_drain(endpoint.pk, retry + timedelta(minutes=1))  # the first runs sooner
    assert [run_after for _, run_after in queued()] == [retry]
    outbox.schedule_drain(endpoint.pk, retry - timedelta(minutes=1))  # due before it: needed
    assert [run_after for _, run_after in queued()] == [retry - timedelta(minutes=1), retry]


@override_settings(TASKS=DATABASE_QUEUE)
def test_the_sweeper_enqueues_a_drain_per_endpoint_not_a_task_per_row(endpoint, program):
    endpoint, _ = endpoint
    for phone in NUMBERS:  # not committed: as if their enqueues were lost
        services.opt_in(phone, program, Context(source="api"))
    assert not DBTaskResult.objects.exists()
    assert sweep.sweep(now=timezone.now() + timedelta(hours=1)) == len(NUMBERS)
    (task,) = DBTaskResult.objects.all()
    assert (task.task_path, task.args_kwargs["args"]) == (
        tasks.deliver_endpoint.module_path,
        [endpoint.pk],
    )


def test_a_task_of_the_first_release_drains_its_endpoint(endpoint, receiver, program):
    services.opt_in(NUMBERS[0], program, Context(source="api"))  # not committed: not sent
    assert receiver.requests == []
    delivery = WebhookDelivery.objects.get()
    tasks.deliver_webhook.call(delivery.pk)
    delivery.refresh_from_db()
    assert delivery.status == "delivered" and len(receiver.requests) == 1
