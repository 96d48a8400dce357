"""A task delivering many rows overlaps their provider calls (delivery/overlap.py): up to
PORTAL_DELIVERY_CALLS_PER_WORKER at once, never more, outside any transaction, and every
row's outcome is recorded, failures included. Outside a transaction, as a worker runs."""

import threading

import pytest

from subscriptions.consent.batch import BatchRow, apply_batch
from subscriptions.consent.services import Context
from subscriptions.delivery import grouped
from subscriptions.models import ProviderCall, ProviderSync, SyncStatus
from tests.fakes import FakeSkyCore
from tests.subscriptions.conftest import account_for, programs

pytestmark = pytest.mark.django_db(transaction=True)

SLOTS = 3
DATABASE_QUEUE = {
    "default": {
        "BACKEND": "django_tasks_db.DatabaseBackend",
        "QUEUES": ["people", "default", "bulk"],
    }
}
PHONES = [f"+1555444{n:04d}" for n in range(2 * SLOTS)]


class MeetingSkyCore(FakeSkyCore):
    """Answers only once SLOTS requests are in at the same time (a barrier), and counts the
    most it ever had at once."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.gate = threading.Barrier(SLOTS, timeout=20)
        self.in_flight = self.most = 0
        self._count = threading.Lock()

    def _answer(self, request):
        with self._count:
            self.in_flight += 1
            self.most = max(self.most, self.in_flight)
        try:
            self.gate.wait()
            return super()._answer(request)
        except threading.BrokenBarrierError:
            return 500, {}, "the calls did not overlap"
        finally:
            with self._count:
                self.in_flight -= 1


@pytest.fixture
def meeting():
    with MeetingSkyCore(api_key="sky-key-123") as fake:
        yield fake


@pytest.fixture
def opt_outs(meeting, settings):
    """An import's opt-outs, queued (not yet delivered) as one grouped task's rows."""
    settings.PORTAL_DELIVERY_CALLS_PER_WORKER = SLOTS
    settings.TASKS = DATABASE_QUEUE  # queued, not run: the test runs the task's code
    account = account_for("skycore", {"api_url": meeting.api_url}, {"api_key": "sky-key-123"})
    _code, (deals,) = programs(account, "DEALS")
    known_in = Context(source="import", actor_label="t", origin_account_id=account.pk)
    apply_batch([BatchRow(p, deals, subscribe=True) for p in PHONES], known_in)
    apply_batch(
        [BatchRow(p, deals, subscribe=False) for p in PHONES],
        Context(source="import", actor_label="t"),
    )
    return list(ProviderSync.objects.filter(status=SyncStatus.PENDING).values_list("pk", flat=True))


def test_a_grouped_task_keeps_its_calls_in_flight_together_never_more(meeting, opt_outs):
    assert len(opt_outs) == len(PHONES)

    grouped.deliver_group(opt_outs)

    assert meeting.most == SLOTS and not meeting.gate.broken
    assert sorted(digits for _action, _ref, digits in meeting.calls()) == sorted(
        p.lstrip("+") for p in PHONES
    )
    delivered = ProviderSync.objects.filter(pk__in=opt_outs)
    assert set(delivered.values_list("status", flat=True)) == {SyncStatus.SUCCEEDED}
    assert ProviderCall.objects.filter(sync__in=opt_outs, status_code=200).count() == len(PHONES)


def test_failed_calls_among_overlapped_ones_each_wait_for_their_retry(meeting, opt_outs):
    meeting.fail(SLOTS, status=503)  # the first round of calls: maybe applied, unknown

    grouped.deliver_group(opt_outs)

    rows = list(ProviderSync.objects.filter(pk__in=opt_outs))
    failed = [row for row in rows if row.status == SyncStatus.PENDING]
    assert len(failed) == SLOTS and all("503" in row.last_error for row in failed)
    assert all(set(row.state.values()) == {None} for row in failed)  # unknown, not "out"
    assert sum(row.status == SyncStatus.SUCCEEDED for row in rows) == len(PHONES) - SLOTS
    assert ProviderCall.objects.filter(sync__in=opt_outs).count() == len(PHONES)
