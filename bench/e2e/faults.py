"""The faults the run injects, on a timeline relative to the start of the load."""

import threading
import time
from dataclasses import dataclass, field

HANG_SECONDS = 3.0  # longer than the accounts' 2 s read timeout: the client times out
OUTAGE_ANSWERS = 100_000  # more faulty answers than an outage can consume


@dataclass
class Window:
    """A span of wall-clock time (comparable with the ledger's attempts)."""

    name: str
    start: float
    end: float | None = None

    def overlaps(self, start, end, grace=0.0):
        """Did [start, end] meet this window (extended by `grace` after its end)? A request
        sent just before the database went down fails with it."""
        return start <= (self.end or float("inf")) + grace and end >= self.start


@dataclass
class FaultLog:
    windows: list = field(default_factory=list)
    provider_fault_answers: dict = field(default_factory=dict)
    counts: dict = field(default_factory=dict)

    def count(self, name, n=1):
        self.counts[name] = self.counts.get(name, 0) + n


def provider_outage(fake, name, seconds, log, *, hang=False):
    """The provider answers every request with a 500, or (hang) too late for the client,
    for `seconds`."""
    window = Window(f"{name} down", time.time())
    log.windows.append(window)
    before = len(fake.requests)
    if hang:
        fake.hang(OUTAGE_ANSWERS, HANG_SECONDS)
    else:
        fake.fail(OUTAGE_ANSWERS, status=500)
    time.sleep(seconds)
    fake.recover()
    window.end = time.time()
    log.provider_fault_answers[name] = len(fake.requests) - before
    log.count("provider outages")


def kill_worker(stack, log):
    stack.workers[0].kill()
    log.count("workers SIGKILLed")


def restart_database(cluster, down_seconds, log):
    window = Window("database down", time.time())
    log.windows.append(window)
    cluster.restart(down_seconds)
    window.end = time.time()
    log.count("database restarts")


def run_timeline(timeline, started):
    """Start each (at_seconds, action) in its own thread at its time; join them all."""
    threads = []
    for at, action in sorted(timeline, key=lambda item: item[0]):
        time.sleep(max(0.0, started + at - time.monotonic()))
        thread = threading.Thread(target=action)
        thread.start()
        threads.append(thread)
    for thread in threads:
        thread.join()
