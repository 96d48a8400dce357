"""What one delivery task costs the database, counted the way production runs it: the
database task queue, a real `db_worker` loop (in this process) claiming and finishing the
task, no transaction around it. Statements are every SQL statement sent (BEGIN and COMMIT
not included); commits are the transactions that wrote something (an atomic block's COMMIT,
or a write statement in autocommit mode).

Before issue 14 (counted with this test on the code of main at d90ac9a):
- one opt-out, one `deliver_sync` task: 21 statements, 5 commits: the queue's 4 (the poll
  that takes the task and its claim, a commit; its result, a commit; the poll that finds
  the queue empty) and the delivery's 17 (its claim: 11 statements, a commit; the call
  log: an INSERT, a commit; the result: 4 statements, a commit; the look for a row that
  waited: 1);
- an import's opt-outs, one `deliver_sync_group` task: the queue's 4 statements and 2
  commits, and 17 statements and 3 commits per row (each row claimed, logged and recorded
  on its own).

Now (delivery/claims.py, record.py, overlap.py):
- one opt-out: 14 statements, 4 commits: the queue's 4 and 2; the claim, 5 statements and
  a commit (contact locks; the target's rows with their contact, code and account;
  keywords; subscriptions; one UPDATE); the result, 4 statements and a commit (contact
  locks, the target's rows, one UPDATE, the call log), with the task of a row that waited
  written in the same transaction when there is one; after it, one read of the
  revocations still waiting for the settled rows (revocations/measure.py);
- an import's opt-outs: 19 statements and 5 commits whatever their number: the queue's 4,
  two claims (the first rows on their own, so that their calls start at once), the
  results in one transaction per 50 rows (or per second), and one read of the waiting
  revocations per committed batch of results.
"""

import pytest
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django_tasks_db.models import DBTaskResult

from subscriptions.consent import services
from subscriptions.consent.batch import BatchRow, apply_batch
from subscriptions.consent.services import Context
from subscriptions.delivery import overlap
from subscriptions.models import ProviderCall, ProviderSync, SyncStatus
from tests.subscriptions.conftest import PHONE, programs

pytestmark = pytest.mark.django_db(transaction=True)

DATABASE_QUEUE = {
    "default": {
        "BACKEND": "django_tasks_db.DatabaseBackend",
        "QUEUES": ["people", "default", "bulk"],
    }
}
TRANSACTION_CONTROL = ("BEGIN", "COMMIT", "ROLLBACK", "SAVEPOINT", "RELEASE")
WRITES = ("INSERT", "UPDATE", "DELETE")


def counted(queries):
    """(statements, commits) of captured queries, in the order they ran."""
    statements = commits = 0
    in_transaction = wrote = False
    for query in queries:
        verb = query["sql"].lstrip().split(None, 1)[0].upper()
        if verb == "BEGIN":
            in_transaction, wrote = True, False
        elif verb == "COMMIT":
            commits += wrote
            in_transaction = False
        elif verb == "ROLLBACK":
            in_transaction = False
        elif verb not in TRANSACTION_CONTROL:
            statements += 1
            if verb in WRITES:
                wrote = True
                commits += not in_transaction
    return statements, commits


def run_queued_tasks():
    """Every queued task, through the db_worker's loop; (tasks run, statements, commits)."""
    queued = DBTaskResult.objects.count()
    with CaptureQueriesContext(connection) as queries:
        call_command("db_worker", "--batch", "--queue-name", "*", "--no-startup-delay")
    assert not DBTaskResult.objects.exclude(status="SUCCESSFUL").exists()
    return queued, *counted(queries.captured_queries)


@pytest.fixture
def queue(settings):
    settings.TASKS = DATABASE_QUEUE


@pytest.fixture
def known_in(skycore, skycore_account):
    """Numbers SkyCore is known to hold in DEALS (no call needed to learn it)."""

    def make(phones):
        _code, (deals,) = programs(skycore_account, "DEALS")
        origin = Context(source="import", actor_label="t", origin_account_id=skycore_account.pk)
        apply_batch([BatchRow(p, deals, subscribe=True) for p in phones], origin)
        skycore.requests.clear()
        return deals

    return make


def test_one_opt_out_is_one_task_of_few_statements_and_commits(queue, skycore, known_in):
    deals = known_in([PHONE])
    services.opt_out(PHONE, deals, Context(source="api"))

    tasks, statements, commits = run_queued_tasks()

    assert skycore.calls() == [("unsubscribe", "ref-DEALS", PHONE.lstrip("+"))]
    assert ProviderSync.objects.filter(status=SyncStatus.SUCCEEDED).count() == 2
    assert ProviderCall.objects.count() == 1
    assert (tasks, statements, commits) == (1, 14, 4)


@pytest.mark.parametrize("numbers", [10, 40])
def test_an_imports_opt_outs_cost_the_same_statements_whatever_their_number(
    queue, skycore, known_in, numbers, settings, monkeypatch
):
    # Four calls in flight: the first 8 rows are claimed on their own (their calls start at
    # once), the others in a second claim; the outcomes are recorded together (none waits a
    # second, whatever the machine's load).
    settings.PORTAL_DELIVERY_CALLS_PER_WORKER = 4
    monkeypatch.setattr(overlap, "RECORD_SECONDS", 3600)
    phones = [f"+1555777{n:04d}" for n in range(numbers)]
    deals = known_in(phones)
    apply_batch(
        [BatchRow(p, deals, subscribe=False) for p in phones],
        Context(source="import", actor_label="t"),
    )

    tasks, statements, commits = run_queued_tasks()

    assert len(skycore.calls()) == numbers
    assert ProviderCall.objects.count() == numbers
    assert not ProviderSync.objects.exclude(status=SyncStatus.SUCCEEDED).exists()
    assert (tasks, statements, commits) == (1, 19, 5)
