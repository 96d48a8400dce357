"""A real `manage.py db_worker` killed in the middle of a delivery loses nothing: the
sweeper re-drives the row and the change takes effect once (PostgreSQL, real processes)."""

import os
import signal
import subprocess
import sys
from pathlib import Path
from urllib.parse import quote

import pytest
from django.conf import settings
from django.db import connection
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from subscriptions.consent import services
from subscriptions.consent.services import Context
from subscriptions.delivery import sweep
from subscriptions.models import ProviderSync, SyncStatus
from tests.fakes import FakeSkyCore
from tests.subscriptions.conftest import DIGITS, PHONE, account_for, programs

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

ROOT = Path(__file__).resolve().parents[3]
LEASE_SECONDS = 8


def database_url():
    db = connection.settings_dict
    auth = quote(db["USER"]) + (f":{quote(db['PASSWORD'])}" if db["PASSWORD"] else "")
    return f"postgres://{auth}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


def manage(*args, log=None, wait=True):
    """Run manage.py against the test database with the django-tasks-db backend."""
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "portal.settings",
        "DATABASE_URL": database_url(),
        "SECRET_KEY": settings.SECRET_KEY,
        "TASKS_BACKEND": "django_tasks_db.DatabaseBackend",
        "PORTAL_DELIVERY_LEASE_SECONDS": str(LEASE_SECONDS),
        "LOG_LEVEL": "INFO",
    }
    command = [sys.executable, "manage.py", *args]
    if not wait:
        return subprocess.Popen(command, cwd=ROOT, env=env, stdout=log, stderr=log)
    done = subprocess.run(
        command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


@pytest.fixture
def slow_skycore():
    with FakeSkyCore(api_key="sky-key-123") as fake:
        yield fake


def test_worker_killed_mid_delivery_the_sweeper_redrives_and_it_arrives_once(
    slow_skycore, tmp_path, clock
):
    account = account_for(
        "skycore", {"api_url": slow_skycore.api_url, "read_timeout": 60}, {"api_key": "sky-key-123"}
    )
    _code, (deals,) = programs(account, "DEALS")
    services.opt_in(PHONE, deals, Context(source="api"))  # delivered here, immediately
    assert slow_skycore.calls() == [("subscribe", "ref-DEALS", DIGITS)]

    slow_skycore.delay = 30  # the provider now takes far longer than we will wait
    manage(
        "shell",
        "-c",
        "from subscriptions.consent import services; "
        "from subscriptions.models import Keyword; "
        f"services.opt_out('{PHONE}', Keyword.objects.get(pk={deals.pk}), "
        "services.Context(source='api'))",
    )
    sync = ProviderSync.objects.order_by("id").last()
    assert sync.status == SyncStatus.PENDING

    with open(tmp_path / "worker1.log", "w") as log:
        worker = manage("db_worker", "--interval", "0.1", "--no-startup-delay", log=log, wait=False)
        try:
            slow_skycore.wait_for(
                2, timeout=120
            )  # in flight (a bound: workers start slowly under load)
            sync.refresh_from_db()
            assert (sync.status, sync.attempts) == (SyncStatus.SENDING, 1)
        finally:
            os.kill(worker.pid, signal.SIGKILL)
            worker.wait(timeout=10)
    assert worker.returncode == -signal.SIGKILL
    # The queue's own record of that task stays "running" forever: only the outbox saves it.
    assert DBTaskResult.objects.filter(status="RUNNING").count() == 1

    slow_skycore.delay = 0  # the provider is fast again
    sync.refresh_from_db()
    assert timezone.now() < sync.locked_until  # the dead worker's lease still runs:
    # (swept in this process: a command's start-up on a busy machine can outlast the lease)
    assert sweep.sweep() == (0, 0)
    # Once the lease has run out (the clock moves past it; nothing sleeps) the sweeper
    # re-drives the row, and its task delivers it (this process runs tasks at once).
    clock.advance(past=sync.locked_until)
    assert sweep.sweep() == (1, 0)

    sync.refresh_from_db()
    assert (sync.status, sync.attempts) == (SyncStatus.SUCCEEDED, 2)
    assert not ProviderSync.objects.filter(status__in=["pending", "sending"]).exists()
    # Sent twice (the first answer was lost with the worker), in effect once.
    assert (
        slow_skycore.calls()
        == [("subscribe", "ref-DEALS", DIGITS)] + [("unsubscribe", "ref-DEALS", DIGITS)] * 2
    )
    assert slow_skycore.state[(DIGITS, "ref-DEALS")] is False
