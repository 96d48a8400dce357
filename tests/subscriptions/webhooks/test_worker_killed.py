"""A real `manage.py db_worker` on the bulk queue, SIGKILLed while a webhook is in flight,
loses no event: the lease runs out, `sweep_outbox` re-drives the delivery, a new worker
sends it again with the same webhook-id (PostgreSQL, real processes)."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.conf import settings
from django.utils import timezone
from standardwebhooks import Webhook

from subscriptions.models import WebhookDelivery
from subscriptions.webhooks import service
from tests.factories import KeywordFactory, ShortCodeFactory
from tests.subscriptions.delivery.test_delivery_worker import database_url
from tests.subscriptions.webhooks.conftest import PHONE

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]
LEASE_SECONDS = 5
WORKER_ENV = {
    "PORTAL_WEBHOOKS_ALLOW_PRIVATE": "1",
    "PORTAL_WEBHOOKS_LEASE_SECONDS": str(LEASE_SECONDS),
    "PORTAL_WEBHOOKS_TIMEOUT_SECONDS": "60",
}

ROOT = Path(__file__).resolve().parents[3]


def manage(*args, log=None, wait=True):
    """manage.py against the test database with the django-tasks-db backend."""
    env = {
        **os.environ,
        **WORKER_ENV,
        "DJANGO_SETTINGS_MODULE": "portal.settings",
        "DATABASE_URL": database_url(),
        "SECRET_KEY": settings.SECRET_KEY,
        "TASKS_BACKEND": "django_tasks_db.DatabaseBackend",
        "LOG_LEVEL": "INFO",
    }
    command = [sys.executable, "manage.py", *args]
    if not wait:
        return subprocess.Popen(command, cwd=ROOT, env=env, stdout=log, stderr=log)
    done = subprocess.run(
        command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_a_killed_worker_loses_no_webhook(allow_private, receiver, tmp_path):
    _endpoint, secret = service.create_endpoint(
        url=receiver.url + "/in", events=["consent.changed"]
    )
    deals = KeywordFactory(short_code=ShortCodeFactory(code="12345"), word="DEALS")
    manage(
        "shell",
        "-c",
        "from subscriptions.consent import services; "
        "from subscriptions.consent.services import Context; "
        "from subscriptions.models import Keyword; "
        f"services.opt_in('{PHONE}', Keyword.objects.get(pk={deals.pk}), Context(source='api'))",
    )
    delivery = WebhookDelivery.objects.get()
    assert (delivery.status, delivery.attempts) == ("pending", 0)  # queued, not sent

    receiver.hang(times=1, seconds=30)  # the first attempt never gets its answer
    with open(tmp_path / "worker1.log", "w") as log:
        worker = manage(
            "db_worker",
            "--queue-name",
            "bulk",
            "--interval",
            "0.1",
            "--no-startup-delay",
            log=log,
            wait=False,
        )
        try:
            receiver.wait_for(
                1, timeout=120
            )  # a bound, not a timing: a worker starts slowly under load
            delivery.refresh_from_db()
            assert (delivery.status, delivery.attempts) == ("pending", 1)
            assert delivery.locked_until > timezone.now()
        finally:
            os.kill(worker.pid, signal.SIGKILL)
            worker.wait(timeout=10)
    assert worker.returncode == -signal.SIGKILL

    # A real process's lease is real time: wait for it to run out, then sweep for real.
    time.sleep(max(0.0, (delivery.locked_until - timezone.now()).total_seconds()) + 0.2)
    assert "re-driven: 1 webhook deliveries" in manage("sweep_outbox")
    with open(tmp_path / "worker2.log", "w") as log:
        worker = manage(
            "db_worker",
            "--queue-name",
            "bulk",
            "--batch",
            "--no-startup-delay",
            log=log,
            wait=False,
        )
        assert worker.wait(timeout=180) == 0

    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts) == ("delivered", 2)
    first, second = receiver.requests
    assert first.headers["webhook-id"] == second.headers["webhook-id"]
    assert first.body == second.body
    assert Webhook(secret).verify(second.body, second.headers)["data"]["phone"] == PHONE
