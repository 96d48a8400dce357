"""Overlapping provider waits.

A worker process keeps at most PORTAL_DELIVERY_CALLS_PER_WORKER provider calls in flight
(`call_slot`): the tasks its threads run (`db_worker --threads`) share them. A task with
several rows to deliver (a grouped task of an import or a reconciliation) runs its calls on
that many threads of its own and records their outcomes in batches as they come in (one
transaction for many rows, record.py). The calls happen outside any transaction: the
threads hold none, and the task's own thread only opens one to record what came back."""

import contextvars
import queue
import threading
import time
from collections.abc import Callable, Iterable
from contextlib import contextmanager

from django.conf import settings
from django.db import connections, transaction

from subscriptions.delivery.record import Outcome, record

# Outcomes are written once this many are waiting, or once the oldest has waited this long.
RECORD_EVERY = 50
RECORD_SECONDS = 1.0

_STOP = object()
_slots_lock = threading.Lock()
_slots: dict[int, threading.BoundedSemaphore] = {}


def calls_per_worker() -> int:
    return max(1, settings.PORTAL_DELIVERY_CALLS_PER_WORKER)


@contextmanager
def call_slot():
    """Hold one of this process's provider call slots while calling a provider."""
    size = calls_per_worker()
    with _slots_lock:
        slots = _slots.setdefault(size, threading.BoundedSemaphore(size))
    with slots:
        yield


class CallPool:
    """Runs jobs on up to `size` threads of its own and hands back (result, exception) as
    each finishes. Inline (in the caller's thread, one job at a time) when `size` is 1 or
    the caller is inside a transaction: a thread has a database connection of its own, which
    cannot see that transaction's rows."""

    def __init__(self, size: int):
        self.size = size
        self.inline = size <= 1 or transaction.get_connection().in_atomic_block
        self.outstanding = 0
        self._jobs = queue.SimpleQueue()
        self._done = queue.SimpleQueue()
        self._threads = []

    def submit(self, job: Callable) -> None:
        self.outstanding += 1
        if self.inline:
            self._done.put(_run(job))
            return
        if len(self._threads) < self.size:
            self._start_thread()
        self._jobs.put(job)

    def next_done(self):
        """The next finished job's (result, exception); waits for one."""
        item = self._done.get()
        self.outstanding -= 1
        return item

    def _start_thread(self):
        # The task's context (its request id, for the log lines) goes with each thread.
        context = contextvars.copy_context()
        thread = threading.Thread(target=context.run, args=(self._work,), daemon=True)
        thread.start()
        self._threads.append(thread)

    def _work(self):
        try:
            while (job := self._jobs.get()) is not _STOP:
                self._done.put(_run(job))
        finally:
            connections.close_all()  # a job may have opened one (SFMC's token cache)

    def close(self):
        """Drop the jobs not started (their rows stay claimed until their lease runs out;
        the sweeper re-drives them), let the running ones finish, stop the threads."""
        while True:
            try:
                self._jobs.get_nowait()
            except queue.Empty:
                break
        for _thread in self._threads:
            self._jobs.put(_STOP)
        for thread in self._threads:
            thread.join()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def _run(job):
    try:
        return job(), None
    except Exception as error:  # handed to the caller, raised once the rest is recorded
        return None, error


def run_and_record(jobs: Iterable[Callable[[], list[Outcome]]], size: int) -> None:
    """Run the delivery jobs (each returns the outcomes of its rows), `size` at a time, and
    record the outcomes as they come in. An unexpected error of one job is raised after the
    others' outcomes are recorded (its rows stay claimed until their lease runs out)."""
    failure, waiting, oldest = None, [], None
    with CallPool(size) as pool:
        for job in jobs:
            pool.submit(job)
        while pool.outstanding:
            outcomes, error = pool.next_done()
            failure = failure or error
            if outcomes:
                waiting.extend(outcomes)
                oldest = oldest or time.monotonic()
            if waiting and (
                not pool.outstanding
                or len(waiting) >= RECORD_EVERY
                or time.monotonic() - oldest >= RECORD_SECONDS
            ):
                record(waiting)
                waiting, oldest = [], None
    if failure is not None:
        raise failure
