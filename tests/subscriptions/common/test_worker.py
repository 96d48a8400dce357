"""`manage.py db_worker --threads N` (common/worker.py): N tasks at once in one process,
claimed together, one solo task at a time; the library's loop without it. Run in this
process, on the database queue, outside any transaction, as a worker runs them."""

import threading

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection
from django.tasks import task
from django_tasks_db.models import DBTaskResult

from subscriptions.common.queueing import SOLO_TASKS, traced_enqueue, with_request_id
from subscriptions.common.worker import ThreadedWorker

DATABASE_QUEUE = {
    "default": {
        "BACKEND": "django_tasks_db.DatabaseBackend",
        "QUEUES": ["people", "default", "bulk"],
    }
}
TOGETHER = 3
# Each task waits here for the others: they pass only if TOGETHER of them run at once (a
# worker running them one after another breaks the barrier when it times out).
gate = threading.Barrier(TOGETHER, timeout=20)


@task(queue_name="default")
@with_request_id
def meet(n: int):
    gate.wait()
    return n


@task(queue_name="default")
@with_request_id
def broken(n: int):
    raise ValueError(f"task {n} fails")


@task(queue_name="default")
@with_request_id
def plain(n: int):
    return n


@pytest.fixture
def queue(settings):
    settings.TASKS = DATABASE_QUEUE
    gate.reset()


def run_worker(*options):
    call_command("db_worker", "--batch", "--no-startup-delay", "--queue-name", "*", *options)


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_threads_run_tasks_at_once_claimed_in_one_poll(queue):
    for n in range(TOGETHER):
        traced_enqueue(meet, n)

    run_worker("--threads", str(TOGETHER))

    done = list(DBTaskResult.objects.order_by("return_value"))
    assert [(row.status, row.return_value) for row in done] == [
        ("SUCCESSFUL", n) for n in range(TOGETHER)
    ]
    assert not gate.broken
    # One poll claimed them all: one transaction, one start time, this worker's id on each.
    assert len({row.started_at for row in done}) == 1
    assert len({tuple(row.worker_ids) for row in done}) == 1


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_failing_task_is_recorded_and_the_others_still_run(queue):
    traced_enqueue(broken, 0)
    for n in range(TOGETHER):
        traced_enqueue(meet, n)

    run_worker("--threads", str(TOGETHER + 1))

    statuses = dict(DBTaskResult.objects.values_list("task_path", "status").distinct())
    assert statuses == {
        "tests.subscriptions.common.test_worker.broken": "FAILED",
        "tests.subscriptions.common.test_worker.meet": "SUCCESSFUL",
    }
    assert "task 0 fails" in DBTaskResult.objects.get(status="FAILED").traceback


@pytest.mark.django_db(transaction=True)
def test_one_thread_is_the_librarys_loop_and_threads_need_postgresql(queue):
    traced_enqueue(plain, 7)
    run_worker("--threads", "1")
    assert DBTaskResult.objects.values_list("status", "return_value").get() == ("SUCCESSFUL", 7)

    if connection.vendor == "sqlite":
        with pytest.raises(CommandError, match="needs PostgreSQL"):
            run_worker("--threads", "2")
    with pytest.raises(CommandError, match="at least 1"):
        run_worker("--threads", "0")


def test_a_worker_takes_one_solo_task_at_a_time_and_leaves_the_rest_to_others():
    """A grouped delivery keeps all its worker's call slots busy: a second one claimed by the
    same worker would only share them while another worker idles."""
    worker = ThreadedWorker(
        threads=8,
        queue_names=["default"],
        interval=0.05,
        batch=True,
        backend_name="default",
        startup_delay=False,
        max_tasks=None,
        worker_id="w",
        excluded_queue_names=[],
    )
    group, single = (
        "subscriptions.delivery.tasks.deliver_sync_group",
        "subscriptions.delivery.tasks.deliver_sync",
    )
    assert group in SOLO_TASKS and single not in SOLO_TASKS
    ready = [DBTaskResult(task_path=path) for path in (group, single, group, single)]

    assert [t.task_path for t in worker._fair_share(ready)] == [group, single, single]
    worker._in_flight = {object(): group}  # one runs here already
    assert [t.task_path for t in worker._fair_share(ready)] == [single, single]
