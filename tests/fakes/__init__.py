"""Fake SMS provider HTTP servers for tests, benchmarks and fault runs.

Each fake is a real HTTP server on 127.0.0.1 with an ephemeral port, in a thread of the
calling process. It records every request (`.requests`, `.wait_for(n)`), keeps the state a
real provider would (`.state`), and can be scripted: `.fail(times, status, headers=...)`
answers the next requests with an error, `.hang(times, seconds)` holds them past the
client's read timeout, `.hold(times)` drops them unanswered until `.release()` applies them (a
request whose answer was lost, applied all the same), `.delay` slows every answer (latency),
`.fault_paths` limits faults to some paths. Use as a context manager or call `.stop()`.

    with FakeSkyCore(api_key="k") as skycore:
        account.settings = {"api_url": skycore.url + "/API/wxml/1.3/index.php"}

From a shell (other processes, the end-to-end fault run):
    python -m tests.fakes skycore --port 8125 --delay 0.05
"""

from tests.fakes.base import FakeProvider, Recorded
from tests.fakes.sfmc import FakeSfmc
from tests.fakes.skycore import FakeSkyCore
from tests.fakes.whatcounts import FakeWhatCounts

__all__ = ["FakeProvider", "FakeSfmc", "FakeSkyCore", "FakeWhatCounts", "Recorded"]
