"""A django-tasks-db worker that runs several tasks at once (`manage.py db_worker --threads
N`, subscriptions/management/commands/db_worker.py).

Up to N tasks of its queues run at once in the process, each on a thread with its own
database connection, and each poll claims as many ready tasks as there are idle threads in
one transaction (`SELECT ... FOR UPDATE SKIP LOCKED LIMIT n`, one UPDATE marking them
running). A delivery spends most of its time waiting for the provider: the threads overlap
those waits; the provider calls of the whole process stay within
PORTAL_DELIVERY_CALLS_PER_WORKER (subscriptions/delivery/overlap.py). A task that keeps
several calls in flight itself (queueing.SOLO_TASKS, a grouped delivery) runs one at a time
per worker: a second would only share the first's call slots while another worker idles.

SIGTERM stops claiming and lets the running tasks finish; a second one exits at once (the
outbox rows of the tasks cut short are re-driven by the sweeper once their lease runs out).
"""

import logging
import os
import random
import threading
import time
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait

from django.db import close_old_connections
from django.db.utils import OperationalError
from django.utils import timezone
from django_tasks_db.compat import TaskResultStatus
from django_tasks_db.management.commands.db_worker import Worker
from django_tasks_db.models import DBTaskResult
from django_tasks_db.utils import exclusive_transaction, is_locked_database_exception

from subscriptions.common.bulk import update_each
from subscriptions.common.queueing import SOLO_TASKS

logger = logging.getLogger("django_tasks_db")

CLAIM_FIELDS = ("status", "started_at", "worker_ids")


class ThreadedWorker(Worker):
    """django-tasks-db's Worker with `threads` tasks at once (see the module)."""

    def __init__(self, *, threads: int, **options):
        super().__init__(**options)
        self.threads = threads
        self._in_flight: dict = {}  # future -> task path
        self._finished = 0
        self._lock = threading.Lock()

    # The library's shutdown handler asks whether a task runs (to exit at once when none
    # does) and its run_task sets the flag; with threads it is the number in flight.
    @property
    def running_task(self) -> bool:
        return bool(self._in_flight)

    @running_task.setter
    def running_task(self, value: bool) -> None:
        pass

    def shutdown(self, signum, frame) -> None:
        if not self.running and self._in_flight:
            logger.warning("Second signal: exiting, %d task(s) cut short.", len(self._in_flight))
            os._exit(1)  # the running tasks' threads cannot be interrupted
        super().shutdown(signum, frame)

    def run(self) -> None:
        logger.info(
            "Starting worker worker_id=%s queues=%s threads=%d",
            self.worker_id,
            ",".join(self.queue_names),
            self.threads,
        )
        if self.startup_delay and self.interval:
            time.sleep(random.random())  # a spread of start-ups (as the library does)
        with ThreadPoolExecutor(self.threads, thread_name_prefix="db_worker") as pool:
            while self.running and not self._done():
                close_old_connections()
                claimed = self.claim(self.threads - len(self._in_flight))
                for task_result in claimed:
                    future = pool.submit(self._run_one, task_result)
                    self._in_flight[future] = task_result.task_path
                close_old_connections()
                if self.batch and not claimed and not self._in_flight:
                    logger.info("No more tasks to run for worker_id=%s.", self.worker_id)
                    return
                self._wait(claimed)

    def claim(self, count: int) -> list[DBTaskResult]:
        """Up to `count` ready tasks, marked running, in one transaction."""
        if count <= 0:
            return []
        tasks = DBTaskResult.objects.ready().filter(backend_name=self.backend_name)
        if not self.process_all_queues:
            tasks = tasks.filter(queue_name__in=self.queue_names)
        if self.excluded_queue_names:
            tasks = tasks.exclude(queue_name__in=self.excluded_queue_names)
        if self.max_tasks is not None:
            count = min(count, self.max_tasks - self._finished - len(self._in_flight))
        try:
            with exclusive_transaction(tasks.db):
                ready = list(tasks.select_for_update(skip_locked=True)[: max(0, count)])
                claimed = self._fair_share(ready)
                now = timezone.now()
                for task_result in claimed:  # as DBTaskResult.claim does, for each
                    task_result.status = TaskResultStatus.RUNNING
                    task_result.started_at = now
                    task_result.worker_ids = [*task_result.worker_ids, self.worker_id]
                update_each(claimed, CLAIM_FIELDS)
        except OperationalError as error:
            if not is_locked_database_exception(error):
                raise
            return []
        return claimed

    def _fair_share(self, ready):
        """The ready tasks this worker takes: all but a second solo task (SOLO_TASKS) while
        one runs or is taken here; the rows left are unlocked at the commit."""
        solo = sum(path in SOLO_TASKS for path in self._in_flight.values())
        taken = []
        for task_result in ready:
            if task_result.task_path in SOLO_TASKS:
                if solo:
                    continue
                solo += 1
            taken.append(task_result)
        return taken

    def _run_one(self, task_result: DBTaskResult) -> None:
        try:
            self.run_task(task_result)
        finally:
            with self._lock:
                self._finished += 1
            close_old_connections()  # this thread's connection, as the loop does its own

    def _wait(self, claimed) -> None:
        """Until a thread is free when all are busy; when the queue had nothing (more) to
        claim, for one poll interval or until a task finishes; else not at all."""
        self._reap()
        if len(self._in_flight) >= self.threads:
            wait(list(self._in_flight), return_when=FIRST_COMPLETED)
        elif claimed:
            return
        elif self._in_flight:
            wait(list(self._in_flight), timeout=self.interval, return_when=FIRST_COMPLETED)
        else:
            time.sleep(self.interval)
        self._reap()

    def _reap(self) -> None:
        for future in [f for f in self._in_flight if f.done()]:
            del self._in_flight[future]

    def _done(self) -> bool:
        if self.max_tasks is None or self._finished < self.max_tasks:
            return False
        logger.info("Run maximum tasks (%d) on worker=%s.", self.max_tasks, self.worker_id)
        return True
