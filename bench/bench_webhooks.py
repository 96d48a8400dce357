"""Benchmark: outbound webhooks through real `manage.py db_worker` processes (bulk queue).

    .venv/bin/python bench/bench_webhooks.py [--changes 10000] [--endpoints 3]
        [--delay 0.02] [--workers 4] [--threads 8] [--stops 300] [--block 25]
    .venv/bin/python bench/bench_webhooks.py --tiny        # CI smoke: seconds, same checks

On its own PostgreSQL database (recreated each run, default portal_bench_webhooks):
1. Cost on a consent change, same run: STOP texts through POST /api/v1/inbound/ (Django's
   test client in this process: the whole request path, PostgreSQL, no network), each from
   a number in 3 programs, one at a time; blocks of --block STOPs alternate between the
   --endpoints endpoints switched off and on (each applied event then writes its webhook
   event and one delivery per endpoint in the STOP's transaction, and enqueues a drain of
   each endpoint on commit). Reported: STOP req/s without and with, and the ratio.
2. Fan-out: --workers db_worker processes on the bulk queue and the sweeper are started
   and wait; --changes consent changes (imports' batch path) with the endpoints on are
   written in one transaction; from its commit the workers deliver every event to every
   endpoint, each a loopback receiver answering after --delay seconds. A db_worker
   runs one task at a time, a drain task keeps up to --threads requests in flight
   (PORTAL_WEBHOOKS_THREADS). Reported: deliveries/s and the ratio to the ideal for that
   concurrency, workers x threads / delay, and to a baseline measured in the same run
   (before and after the fan-out): --baseline bare HTTP posts to the same receivers from
   --workers processes of --threads threads (bench/http_load.py), which shows what the
   machine's round trips allow at that concurrency. Checked: every delivery delivered, each
   receiver got every event once, in order per number, all verified with the
   standardwebhooks library.
"""

import argparse
import os
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from http.server import ThreadingHTTPServer
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
    parser.add_argument("--threads", type=int, default=8, help="requests in flight per worker")
    parser.add_argument("--stops", type=int, default=300, help="STOP requests of each kind")
    parser.add_argument("--block", type=int, default=25, help="STOPs per alternating block")
    parser.add_argument(
        "--baseline", type=int, default=3000, help="bare HTTP posts, before and after"
    )
    parser.add_argument("--tiny", action="store_true", help="CI smoke size")
    parser.add_argument(
        "--database-url", default="postgres://postgres@127.0.0.1:5432/portal_bench_webhooks"
    )
    parser.add_argument("--max-seconds", type=float, default=900)
    args = parser.parse_args()
    if args.tiny:
        args.changes, args.stops, args.block, args.workers = 60, 20, 10, 2
        args.baseline = 100
        args.max_seconds = min(args.max_seconds, 120)
    return args


def configure(database_url, threads):
    os.environ.update(
        {
            "PORTAL_WEBHOOKS_THREADS": str(threads),
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


def manage(*args, log=None):
    """manage.py in its own process; with `log` (a file), at INFO level into it."""
    env = os.environ.copy()
    if log is not None:
        env["LOG_LEVEL"] = "INFO"
    return subprocess.Popen(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=env,
        stdout=log or subprocess.DEVNULL,
        stderr=subprocess.STDOUT if log else subprocess.DEVNULL,
    )


def start_workers(count, logs):
    """`count` bulk-queue db_workers and the sweeper, once every worker polls its queue
    (starting a Django process takes seconds on a loaded machine: not part of the rate)."""
    paths = [logs / f"worker{i}.log" for i in range(count)]
    processes = []
    for path in paths:
        with open(path, "w") as log:
            processes.append(
                manage(
                    *("db_worker", "--queue-name", "bulk", "--interval", "0.2"),
                    "--no-startup-delay",
                    log=log,
                )
            )
    processes.append(manage("sweep_outbox", "--every", "10"))
    deadline = time.monotonic() + 180
    while not all("Starting worker" in path.read_text() for path in paths):
        if time.monotonic() > deadline or any(p.poll() is not None for p in processes):
            stop_processes(processes)
            raise SystemExit(f"the workers did not start; see {logs}")
        time.sleep(0.2)
    return processes


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
    """Seconds for one STOP text from each of `phones`, one at a time. Between two STOPs
    (not timed) the drains the last one enqueued are taken off the queue, as running
    workers would: so each STOP pays for enqueuing its drains, not only for looking at
    the queue and finding them already there."""
    from django_tasks_db.models import DBTaskResult

    from subscriptions.webhooks.tasks import deliver_endpoint

    drains = DBTaskResult.objects.filter(task_path=deliver_endpoint.module_path)
    took = 0.0
    for phone in phones:
        started = time.perf_counter()
        answer = client.post(
            "/api/v1/inbound/",
            {"from": phone, "to": code, "text": "STOP", "message_id": f"stop-{phone}"},
            content_type="application/json",
            HTTP_AUTHORIZATION=f"Token {token}",
        )
        took += time.perf_counter() - started
        assert answer.status_code == 200, answer.content
        drains.delete()
    return took


def set_endpoints_active(active):
    """Every endpoint on or off. A QuerySet update sends no signal: the process's memo of
    the active endpoints (subscriptions.common.memo) is dropped by hand, as its docstring
    asks of every such bypass."""
    from subscriptions.common import memo
    from subscriptions.models import WebhookEndpoint

    WebhookEndpoint.objects.update(is_active=active)
    memo.invalidate(memo.WEBHOOKS)


def stop_cost(args, client, token, code, keywords):
    """STOP req/s with the endpoints off and on. Blocks of --block STOPs alternate between
    the two after a warm-up, so that the machine's drift (other work on it) hits both
    alike. The numbers are opted in with the endpoints off: only the STOPs write
    deliveries. Returns (req/s without, req/s with, deliveries written, per-pair ratios)."""
    from subscriptions.models import WebhookDelivery

    set_endpoints_active(False)
    blocks = 2 * max(1, args.stops // args.block) + 1
    phones = [f"+1557{4000000 + i:07d}" for i in range(blocks * args.block)]
    opt_in_all(keywords, phones)
    seconds = {False: 0.0, True: 0.0}
    ratios, previous = [], 0.0
    for index in range(blocks):
        active = index % 2 == 0 and index > 0  # block 0: warm-up, without
        set_endpoints_active(active)
        chunk = phones[index * args.block : (index + 1) * args.block]
        took = stop_block(client, token, code.code, chunk)
        if index == 0:
            continue
        seconds[active] += took
        if active:
            ratios.append(previous / took)
        previous = took
    set_endpoints_active(True)
    count = (blocks - 1) // 2 * args.block
    written = WebhookDelivery.objects.count()
    return count / seconds[False], count / seconds[True], written, ratios


def clear_webhook_queue():
    from django_tasks_db.models import DBTaskResult

    from subscriptions.models import WebhookDelivery, WebhookEvent

    WebhookDelivery.objects.all().delete()
    WebhookEvent.objects.all().delete()
    DBTaskResult.objects.all().delete()


def bare_http_rate(args, receivers, requests):
    """The baseline: --workers processes of --threads threads each post `requests` bodies
    in all straight to the receivers (bench/http_load.py), started together. Returns
    requests/s: what this machine's HTTP round trips allow at the workers' concurrency,
    now, without the portal."""
    urls = [receiver.url + "/baseline" for receiver in receivers]
    each = max(1, requests // args.workers)
    command = [sys.executable, str(ROOT / "bench" / "http_load.py"), "--threads"]
    processes = [
        subprocess.Popen(
            [*command, str(args.threads), "--requests", str(each), *urls],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        for _ in range(args.workers)
    ]
    for process in processes:
        assert process.stdout.readline().strip() == "ready"
    for process in processes:
        process.stdin.write("go\n")
        process.stdin.flush()
    seconds = []
    for process in processes:
        seconds.append(float(process.stdout.readline().split()[1]))
        process.wait(timeout=60)
    for receiver in receivers:
        receiver.requests.clear()
    return each * args.workers / max(seconds)


DRAIN_LINE = re.compile(
    r"webhook drain of endpoint #\d+: (\d+) rows in (\d+) batches, ([\d.]+) s "
    r"\(database ([\d.]+) s, waiting for answers ([\d.]+) s\)"
)


def drain_summary(logs):
    """Where the drains' time went, from the workers' log lines (one per drain)."""
    totals = [0.0] * 5
    drains = 0
    for path in logs.glob("worker*.log"):
        for match in DRAIN_LINE.finditer(path.read_text()):
            drains += 1
            values = [float(value) for value in match.groups()]
            totals = [total + value for total, value in zip(totals, values, strict=True)]
    rows, batches, seconds, database, waiting = totals
    return (
        f"drains: {drains}, {rows:.0f} rows in {batches:.0f} batches; of their {seconds:.0f} s, "
        f"{database:.0f} s in the database (claims and records), {waiting:.0f} s waiting for "
        f"answers, the rest signing and starting requests"
    )


class LoadSampler:
    """The machine's 1-minute load average every few seconds while the bench runs (the
    machine is shared: the numbers mean little without it)."""

    def __init__(self, every=5.0):
        self.samples = [os.getloadavg()[0]]
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, args=(every,), daemon=True)
        self._thread.start()

    def _run(self, every):
        while not self._stop.wait(every):
            self.samples.append(os.getloadavg()[0])

    def summary(self):
        self._stop.set()
        low, mid, high = min(self.samples), statistics.median(self.samples), max(self.samples)
        return f"load average during the run: {low:.1f} to {high:.1f} (median {mid:.1f})"


def wait_until_delivered(max_seconds, since):
    """Seconds from `since` (the commit) until no delivery is pending; None if not in time."""
    from subscriptions.models import WebhookDelivery

    while time.monotonic() - since < max_seconds:
        if not WebhookDelivery.objects.filter(status="pending").exists():
            return time.monotonic() - since
        time.sleep(0.1)
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
    run_started = time.monotonic()
    load = LoadSampler()
    args.database_url = recreate_database(args.database_url)
    configure(args.database_url, args.threads)

    import django

    django.setup()
    from django.contrib.auth.models import Permission, User
    from django.core.management import call_command
    from django.db import transaction
    from django.test import Client
    from rest_framework.authtoken.models import Token

    call_command("migrate", verbosity=0)

    from subscriptions.models import Keyword, ProviderAccount, ShortCode, WebhookDelivery
    from subscriptions.webhooks import service
    from tests.fakes.base import FakeProvider

    class Receiver(FakeProvider):
        def respond(self, request):
            return 200, {}, "ok"

    # Every worker's threads keep a connection open to every receiver: a listen backlog
    # longer than http.server's 5 spares them a SYN retry (a second) when they all start.
    ThreadingHTTPServer.request_queue_size = 128
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

        if not written:
            print("STOPs with 3 endpoints wrote no deliveries: the bench measured nothing")
            sys.exit(1)
        clear_webhook_queue()
        for receiver in receivers:
            receiver.requests.clear()
        phones = [f"+1555{3000000 + i:07d}" for i in range(args.changes)]
        baseline = [bare_http_rate(args, receivers, args.baseline)]
        logs = Path(tempfile.mkdtemp(prefix="bench_webhooks_"))
        processes = start_workers(args.workers, logs)
        started = time.monotonic()
        with transaction.atomic():  # one commit: the workers see every delivery at once
            opt_in_all(keywords[:1], phones)
        committed = time.monotonic()
        deliveries = WebhookDelivery.objects.count()
        if deliveries != args.changes * args.endpoints:
            print(f"{deliveries} deliveries for {args.changes} changes x {args.endpoints}")
            sys.exit(1)
        print(
            f"{args.changes} consent changes and {deliveries} deliveries written in "
            f"{time.monotonic() - started:.1f} s (one transaction)",
            flush=True,
        )
        elapsed = wait_until_delivered(args.max_seconds, committed)
        stop_processes(processes)
        processes = []
        if elapsed is None:
            print(f"fan-out: NOT FINISHED after {args.max_seconds:.0f} s")
            sys.exit(1)
        ideal = args.workers * args.threads / args.delay
        arrived = sorted(r.received_at for receiver in receivers for r in receiver.requests)
        steady = (len(arrived) - 1) / (arrived[-1] - arrived[0])
        rate = deliveries / elapsed
        problems = check(receivers, secrets, args.changes)
        baseline.append(bare_http_rate(args, receivers, args.baseline))
        bare = statistics.mean(baseline)
        print(
            f"ideal: {args.workers} workers x {args.threads} threads / "
            f"{args.delay * 1000:.0f} ms = {ideal:.1f} deliveries/s"
        )
        print(
            f"RESULT fan-out: {deliveries} deliveries ({args.changes} events x "
            f"{args.endpoints} endpoints) in {elapsed:.1f} s from their commit = "
            f"{rate:.1f}/s = {rate / ideal:.2f} of ideal (first to last arrival "
            f"{steady:.1f}/s = {steady / ideal:.2f})",
            flush=True,
        )
        print(
            f"RESULT baseline, bare HTTP at the same concurrency ({args.workers} processes x "
            f"{args.threads} threads, {args.baseline} posts to the same receivers, before and "
            f"after the fan-out): {baseline[0]:.1f}/s and {baseline[1]:.1f}/s = "
            f"{bare / ideal:.2f} of ideal; the fan-out = {rate / bare:.2f} of it",
            flush=True,
        )
        failed = WebhookDelivery.objects.exclude(status="delivered").count()
        print(drain_summary(logs), flush=True)
        print(f"check: {failed} not delivered; {'; '.join(problems) or 'all verified, in order'}")
        print(f"{load.summary()}; whole run {time.monotonic() - run_started:.0f} s", flush=True)
        if failed or problems:
            sys.exit(1)
    finally:
        stop_processes(processes)
        for receiver in receivers:
            receiver.stop()


if __name__ == "__main__":
    main()
