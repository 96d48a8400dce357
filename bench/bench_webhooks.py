"""Benchmark: outbound webhooks through real `manage.py db_worker` processes (bulk queue).

    .venv/bin/python bench/bench_webhooks.py [--changes 10000] [--endpoints 3]
        [--delay 0.02] [--workers 4] [--stops 600] [--block 25]
    .venv/bin/python bench/bench_webhooks.py --tiny        # CI smoke: seconds, same checks

On its own PostgreSQL database (recreated each run, default portal_bench_webhooks):
1. Cost on a consent change, same run: STOP texts through POST /api/v1/inbound/ (Django's
   test client in this process: the whole request path, PostgreSQL, no network), each from
   a number in 3 programs, one at a time; blocks of --block STOPs alternate between the
   --endpoints endpoints switched off and on (each applied event then writes its webhook
   event and one delivery per endpoint in the STOP's transaction, and enqueues them on
   commit). Reported: STOP req/s without and with, and the ratio.
2. Fan-out: --changes consent changes (imports' batch path) with the endpoints on; then
   --workers db_worker processes on the bulk queue and the sweeper deliver every event to
   every endpoint, each a loopback receiver answering after --delay seconds. Reported:
   deliveries/s and the ratio to the ideal, workers x 1 / delay (a db_worker runs one
   task at a time). Checked: every delivery delivered, each receiver got every event once,
   in order per number, all verified with the standardwebhooks library.
"""

import argparse
import os
import signal
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

BENCH_SECRET = "bench-only-secret-key-0123456789abcdef0123456789"


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--changes", type=int, default=10_000)
    parser.add_argument("--endpoints", type=int, default=3)
    parser.add_argument("--delay", type=float, default=0.02, help="receiver latency (s)")
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--stops", type=int, default=600, help="STOP requests of each kind")
    parser.add_argument("--block", type=int, default=25, help="STOPs per alternating block")
    parser.add_argument("--tiny", action="store_true", help="CI smoke size")
    parser.add_argument(
        "--database-url", default="postgres://postgres@127.0.0.1:5432/portal_bench_webhooks"
    )
    parser.add_argument("--max-seconds", type=float, default=900)
    args = parser.parse_args()
    if args.tiny:
        args.changes, args.stops, args.block, args.workers = 60, 20, 10, 2
        args.max_seconds = min(args.max_seconds, 120)
    return args


def configure(database_url):
    os.environ.update(
        {
            "DJANGO_SETTINGS_MODULE": "portal.settings",
            "DATABASE_URL": database_url,
            "SECRET_KEY": BENCH_SECRET,
            "TASKS_BACKEND": "django_tasks_db.DatabaseBackend",
            "PORTAL_WEBHOOKS_ALLOW_PRIVATE": "1",  # the receivers are on loopback
            "LOG_LEVEL": "WARNING",
            "ALLOWED_HOSTS": "testserver",
            "SECURE_SSL_REDIRECT": "0",
        }
    )


def recreate_database(database_url):
    """A fresh database; returns its URL. When the old one cannot be dropped in time (a
    DROP DATABASE waits for every backend of the shared server), a new name is used."""
    import psycopg

    base, _, name = database_url.rpartition("/")
    with psycopg.connect(base + "/postgres", autocommit=True) as conn:
        conn.execute("SET statement_timeout = '20s'")
        try:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        except psycopg.errors.QueryCanceled:
            name = f"{name}_{os.getpid()}"
            print(f"(could not drop the old database in time; using {name})", flush=True)
        conn.execute(f'CREATE DATABASE "{name}"')
    return f"{base}/{name}"


def manage(*args):
    return subprocess.Popen(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=os.environ.copy(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def stop_processes(processes):
    for process in processes:
        process.send_signal(signal.SIGTERM)
    for process in processes:
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()


def opt_in_all(keywords, phones):
    from subscriptions.consent import batch
    from subscriptions.consent.batch import BatchRow
    from subscriptions.consent.services import Context

    for start in range(0, len(phones), 1000):
        rows = [
            BatchRow(phone=phone, keyword=keyword, subscribe=True)
            for phone in phones[start : start + 1000]
            for keyword in keywords
        ]
        batch.apply_batch(rows, Context(source="import", actor_label="bench"))


def stop_block(client, token, code, phones):
    """Seconds for one STOP text from each of `phones`, one at a time."""
    started = time.perf_counter()
    for phone in phones:
        answer = client.post(
            "/api/v1/inbound/",
            {"from": phone, "to": code, "text": "STOP", "message_id": f"stop-{phone}"},
            content_type="application/json",
            HTTP_AUTHORIZATION=f"Token {token}",
        )
        assert answer.status_code == 200, answer.content
    return time.perf_counter() - started


def stop_cost(args, client, token, code, keywords):
    """STOP req/s with the endpoints off and on. Blocks of --block STOPs alternate between
    the two after a warm-up, so that the machine's drift (other work on it) hits both
    alike. The numbers are opted in with the endpoints off: only the STOPs write
    deliveries. Returns (req/s without, req/s with, deliveries written, per-pair ratios)."""
    from subscriptions.models import WebhookDelivery, WebhookEndpoint

    WebhookEndpoint.objects.update(is_active=False)
    blocks = 2 * max(1, args.stops // args.block) + 1
    phones = [f"+1557{4000000 + i:07d}" for i in range(blocks * args.block)]
    opt_in_all(keywords, phones)
    seconds = {False: 0.0, True: 0.0}
    ratios, previous = [], 0.0
    for index in range(blocks):
        active = index % 2 == 0 and index > 0  # block 0: warm-up, without
        WebhookEndpoint.objects.update(is_active=active)
        chunk = phones[index * args.block : (index + 1) * args.block]
        took = stop_block(client, token, code.code, chunk)
        if index == 0:
            continue
        seconds[active] += took
        if active:
            ratios.append(previous / took)
        previous = took
    WebhookEndpoint.objects.update(is_active=True)
    count = (blocks - 1) // 2 * args.block
    written = WebhookDelivery.objects.count()
    return count / seconds[False], count / seconds[True], written, ratios


def clear_webhook_queue():
    from django_tasks_db.models import DBTaskResult

    from subscriptions.models import WebhookDelivery, WebhookEvent

    WebhookDelivery.objects.all().delete()
    WebhookEvent.objects.all().delete()
    DBTaskResult.objects.all().delete()


def wait_until_delivered(max_seconds):
    from subscriptions.models import WebhookDelivery

    started = time.monotonic()
    while time.monotonic() - started < max_seconds:
        if not WebhookDelivery.objects.filter(status="pending").exists():
            return time.monotonic() - started
        time.sleep(0.2)
    return None


def check(receivers, secrets, expected):
    """Every event at every receiver once, verified, in order per number."""
    from standardwebhooks import Webhook

    problems = []
    for receiver, secret in zip(receivers, secrets, strict=True):
        ids = [r.headers["webhook-id"] for r in receiver.requests]
        if len(set(ids)) != expected:
            problems.append(f"{receiver.url}: {len(set(ids))} distinct events, wanted {expected}")
        if len(ids) != len(set(ids)):
            problems.append(f"{receiver.url}: {len(ids) - len(set(ids))} duplicates")
        last = {}
        for request in receiver.requests:
            data = Webhook(secret).verify(request.body, request.headers)["data"]
            if last.get(data["phone"], 0) > data["event_id"]:
                problems.append(f"{receiver.url}: out of order for {data['phone']}")
            last[data["phone"]] = data["event_id"]
    return problems


def main():
    args = parse_args()
    args.database_url = recreate_database(args.database_url)
    configure(args.database_url)

    import django

    django.setup()
    from django.contrib.auth.models import Permission, User
    from django.core.management import call_command
    from django.test import Client
    from rest_framework.authtoken.models import Token

    call_command("migrate", verbosity=0)

    from subscriptions.models import Keyword, ProviderAccount, ShortCode, WebhookDelivery
    from subscriptions.webhooks import service
    from tests.fakes.base import FakeProvider

    class Receiver(FakeProvider):
        def respond(self, request):
            return 200, {}, "ok"

    receivers = [Receiver(delay=args.delay) for _ in range(args.endpoints)]
    processes = []
    try:
        account = ProviderAccount.objects.create(name="Console bench")
        code = ShortCode.objects.create(code="58000", name="Bench", brand="Bench", provider=account)
        keywords = [
            Keyword.objects.create(short_code=code, word=f"P{i}", provider_ref=f"p{i}")
            for i in range(3)
        ]
        secrets = [
            service.create_endpoint(url=r.url + "/in", events=["consent.changed"])[1]
            for r in receivers
        ]
        user = User.objects.create(username="bench")
        user.user_permissions.add(Permission.objects.get(codename="submit_inbound"))
        token = Token.objects.create(user=user).key
        print(
            f"PostgreSQL {args.database_url.rpartition('/')[2]}, load average before: "
            f"{os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs",
            flush=True,
        )

        without, with_, written, ratios = stop_cost(args, Client(), token, code, keywords)
        print(
            f"RESULT STOP (3 programs each): {without:.1f} req/s without endpoints, "
            f"{with_:.1f} req/s with {args.endpoints} endpoints = {with_ / without:.2f} "
            f"(median of {len(ratios)} block pairs {statistics.median(ratios):.2f}; "
            f"{written} deliveries written by the STOPs)",
            flush=True,
        )

        clear_webhook_queue()
        for receiver in receivers:
            receiver.requests.clear()
        phones = [f"+1555{3000000 + i:07d}" for i in range(args.changes)]
        started = time.monotonic()
        opt_in_all(keywords[:1], phones)
        deliveries = WebhookDelivery.objects.count()
        print(
            f"{args.changes} consent changes and {deliveries} deliveries written in "
            f"{time.monotonic() - started:.1f} s",
            flush=True,
        )
        processes = [
            manage("db_worker", "--queue-name", "bulk", "--interval", "0.05", "--no-startup-delay")
            for _ in range(args.workers)
        ]
        processes.append(manage("sweep_outbox", "--every", "10"))
        elapsed = wait_until_delivered(args.max_seconds)
        stop_processes(processes)
        processes = []
        if elapsed is None:
            print(f"fan-out: NOT FINISHED after {args.max_seconds:.0f} s")
            sys.exit(1)
        ideal = args.workers / args.delay
        arrived = sorted(r.received_at for receiver in receivers for r in receiver.requests)
        steady = (len(arrived) - 1) / (arrived[-1] - arrived[0])
        rate = deliveries / elapsed
        print(
            f"ideal: {args.workers} workers x 1 task / {args.delay * 1000:.0f} ms = "
            f"{ideal:.1f} deliveries/s; load average after: {os.getloadavg()[0]:.1f}"
        )
        print(
            f"RESULT fan-out: {deliveries} deliveries ({args.changes} events x "
            f"{args.endpoints} endpoints) in {elapsed:.1f} s from worker start = "
            f"{rate:.1f}/s = {rate / ideal:.2f} of ideal (first to last arrival "
            f"{steady:.1f}/s = {steady / ideal:.2f})",
            flush=True,
        )
        problems = check(receivers, secrets, args.changes)
        failed = WebhookDelivery.objects.exclude(status="delivered").count()
        print(f"check: {failed} not delivered; {'; '.join(problems) or 'all verified, in order'}")
        if failed or problems:
            sys.exit(1)
    finally:
        stop_processes(processes)
        for receiver in receivers:
            receiver.stop()


if __name__ == "__main__":
    main()
