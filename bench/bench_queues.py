"""Benchmark: texts to people are not delayed by a provider-sync backlog (queues by urgency).

    .venv/bin/python bench/bench_queues.py [--syncs 100000] [--samples 40] [--delay 0.05]
        [--sync-workers 2] [--max-drain-seconds 1800]

What it does, on its own PostgreSQL database (recreated each run), with real
`manage.py db_worker` processes, one set per queue as deployed (people, default = syncs,
bulk) and the sweeper, against a fake SFMC (tests/fakes) that takes --delay a call:
1. Baseline, same run, queues empty: --samples HELP texts (each queues its reply; on an
   SFMC code a STOP gets the provider's own confirmation, not the portal's) and
   --samples one-time codes (`send_preferences_code`, as the preferences page enqueues it);
   for each, the time from the enqueue to the fake receiving the text.
2. --syncs provider syncs (opt-ins the provider was never told about) enqueued at once on
   the syncs queue; while the workers work through them, the same samples again.
3. The time the backlog takes to drain (stops at --max-drain-seconds and projects the rest
   from the rate so far).
Reported: p50/p99 hand-over time of the HELP replies and of the codes under the backlog,
the ratio to the baseline p99, whether p99 <= 5 s, beside the backlog's drain time.
A tiny run is the CI smoke test (tests/bench/test_bench_smoke.py).
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
TARGET_P99_SECONDS = 5.0


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--syncs", type=int, default=100_000)
    parser.add_argument("--samples", type=int, default=40, help="HELP texts, and as many codes")
    parser.add_argument("--every", type=float, default=0.25, help="seconds between samples")
    parser.add_argument("--delay", type=float, default=0.05, help="fake SFMC latency (s)")
    parser.add_argument("--sync-workers", type=int, default=2)
    parser.add_argument("--max-drain-seconds", type=float, default=1800)
    parser.add_argument(
        "--database-url", default="postgres://postgres@127.0.0.1:5432/portal_bench_queues"
    )
    return parser.parse_args(argv)


def configure(args):
    os.environ.update(
        {
            "DJANGO_SETTINGS_MODULE": "portal.settings",
            "DATABASE_URL": args.database_url,
            "SECRET_KEY": BENCH_SECRET,
            "TASKS_BACKEND": "django_tasks_db.DatabaseBackend",
            "LOG_LEVEL": "WARNING",
            "DEBUG": "0",
        }
    )


def recreate_database(database_url):
    import psycopg

    base, _, name = database_url.rpartition("/")
    with psycopg.connect(base + "/postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')


def manage(*args):
    return subprocess.Popen(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=os.environ.copy(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def start_workers(sync_workers):
    """One worker per queue (two or more on the syncs queue) and the sweeper."""
    queues = ["people", *["default"] * sync_workers, "bulk"]
    workers = [
        manage("db_worker", "--queue-name", q, "--interval", "0.05", "--no-startup-delay")
        for q in queues
    ]
    return [*workers, manage("sweep_outbox", "--every", "10")]


def stop_workers(workers):
    for worker in workers:
        worker.send_signal(signal.SIGTERM)
    for worker in workers:
        try:
            worker.wait(timeout=15)
        except subprocess.TimeoutExpired:
            worker.kill()


def texts_received(fake):
    """{digits: monotonic time the fake received the first text to that number}."""
    received = {}
    for request in list(fake.requests):
        if request.path.endswith("/send") and (request.json or {}).get("Override"):
            for number in request.json["mobileNumbers"]:
                received.setdefault(number, request.received_at)
    return received


def sample(fake, code, phones, every, label):
    """A HELP from each of `phones[0::2]`, a one-time code for each of `phones[1::2]`;
    returns ({kind: [hand-over seconds]}, missing)."""
    from django.db import transaction

    from subscriptions.common.queueing import traced_enqueue
    from subscriptions.inbound import mo
    from subscriptions.preferences.tasks import send_preferences_code

    sent = {}
    for n, phone in enumerate(phones):
        kind = "HELP reply" if n % 2 == 0 else "one-time code"
        started = time.monotonic()
        if kind == "HELP reply":
            with transaction.atomic():
                mo.handle_mo(mo.MoText(phone=phone, short_code=code, text="HELP"))
        else:
            traced_enqueue(send_preferences_code, phone, "en")
        sent[phone.lstrip("+")] = (kind, started)
        time.sleep(every)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and len(set(texts_received(fake)) & set(sent)) < len(sent):
        time.sleep(0.1)
    received = texts_received(fake)
    latencies = {"HELP reply": [], "one-time code": []}
    for digits, (kind, started) in sent.items():
        if digits in received:
            latencies[kind].append(received[digits] - started)
    missing = len(sent) - sum(len(v) for v in latencies.values())
    for kind, values in latencies.items():
        print(f"{label}: {kind}: {describe(values)}", flush=True)
    return latencies, missing


def warm_up(fake, keyword, phone, timeout=600):
    """A one-time code (people queue) and an API opt-out (its STOP on the syncs queue):
    wait until both reached the fake, so that the baseline does not measure the workers'
    start-up."""
    from django.db import transaction

    from subscriptions.common.queueing import traced_enqueue
    from subscriptions.consent import services
    from subscriptions.consent.services import Context
    from subscriptions.preferences.tasks import send_preferences_code

    started = time.monotonic()
    traced_enqueue(send_preferences_code, phone, "en")
    with transaction.atomic():
        services.opt_out(phone, keyword, Context(source="api"))
    digits = phone.lstrip("+")

    def synced():
        return any(
            r.path.endswith("queueMO") and digits in (r.json or {}).get("mobileNumbers", [])
            for r in list(fake.requests)
        )

    while time.monotonic() - started < timeout:
        if digits in texts_received(fake) and synced():
            print(f"workers ready after {time.monotonic() - started:.1f} s", flush=True)
            return
        time.sleep(0.2)
    raise SystemExit("the workers did not start")


def p99(values):
    if len(values) < 2:
        return values[0] if values else float("nan")
    return statistics.quantiles(values, n=100, method="inclusive")[98]


def describe(values):
    if not values:
        return "none arrived"
    return f"n={len(values)} p50 {statistics.median(values):.2f} s, p99 {p99(values):.2f} s"


def populate(keyword, count, sample_phones):
    """`count` numbers opted in at the portal, never told to SFMC, and a pending sync each;
    plus the sample numbers (known on the code, so a code can be texted to them)."""
    from django.utils import timezone

    from subscriptions.models import Contact, ProviderSync, Status, Subscription

    now = timezone.now()
    ids = []
    phones = [f"+1555{5000000 + n:07d}" for n in range(count)] + list(sample_phones)
    for start in range(0, len(phones), 10_000):
        contacts = Contact.objects.bulk_create(
            Contact(phone=p) for p in phones[start : start + 10_000]
        )
        Subscription.objects.bulk_create(
            Subscription(
                contact=c,
                keyword=keyword,
                short_code=keyword.short_code,
                status=Status.OPTED_IN,
                last_occurred_at=now,
                last_source="import",
            )
            for c in contacts
        )
        backlog = [c for c in contacts if c.phone not in sample_phones]
        rows = ProviderSync.objects.bulk_create(
            ProviderSync(contact=c, short_code=keyword.short_code, provider_id=keyword.account_id)
            for c in backlog
        )
        ids.extend(row.pk for row in rows)
    return ids


def wait_for_drain(started, max_seconds, total):
    from subscriptions.models import ProviderSync

    open_rows = ProviderSync.objects.filter(status__in=["pending", "sending"])
    while True:
        left = open_rows.count()
        elapsed = time.monotonic() - started
        if left == 0:
            return elapsed, True
        if elapsed > max_seconds:
            done = total - left
            projected = elapsed * total / done if done else float("inf")
            return projected, False
        time.sleep(1)


def main(argv=None):
    args = parse_args(argv)
    configure(args)
    recreate_database(args.database_url)

    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)

    from subscriptions.delivery.plan import enqueue_syncs
    from subscriptions.models import Keyword, ProviderAccount, ProviderKind, ShortCode
    from tests.fakes import FakeSfmc

    fake = FakeSfmc(client_id="bench-id", client_secret="bench-secret", account_id="5001")
    workers = []
    try:
        account = ProviderAccount(
            name="SFMC bench",
            kind=ProviderKind.SFMC,
            settings={
                "auth_base_url": fake.url,
                "rest_base_url": fake.url,
                "account_id": "5001",
                "send_message_key": "MSG",
            },
        )
        account.set_secrets({"client_id": "bench-id", "client_secret": "bench-secret"})
        account.save()
        code = ShortCode.objects.create(code="55557", name="Bench", brand="Bench", provider=account)
        keyword = Keyword.objects.create(short_code=code, word="DEALS")
        idle = [f"+1556{6000000 + n:07d}" for n in range(args.samples * 2)]
        loaded = [f"+1556{7000000 + n:07d}" for n in range(args.samples * 2)]
        started = time.monotonic()
        backlog = populate(keyword, args.syncs, {*idle, *loaded, "+15568000000"})
        print(
            f"{len(backlog)} syncs' rows written in {time.monotonic() - started:.1f} s; "
            f"{args.sync_workers} syncs workers, 1 people worker, 1 bulk worker, sweeper; "
            f"fake SFMC {args.delay * 1000:.0f} ms a call; load average "
            f"{os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs",
            flush=True,
        )
        fake.delay = args.delay
        workers = start_workers(args.sync_workers)
        warm_up(fake, keyword, "+15568000000")
        base, base_missing = sample(fake, code, idle, args.every, "baseline (queues empty)")

        started = time.monotonic()
        enqueue_syncs(backlog)
        print(f"{len(backlog)} syncs enqueued in {time.monotonic() - started:.1f} s", flush=True)
        under, missing = sample(fake, code, loaded, args.every, f"with {len(backlog)} syncs queued")
        drain, finished = wait_for_drain(started, args.max_drain_seconds, len(backlog))
        print(
            f"backlog of {len(backlog)} syncs "
            + (f"drained in {drain:.1f} s" if finished else f"projected to drain in {drain:.0f} s")
            + f" ({len(backlog) / drain:.1f} syncs/s)",
            flush=True,
        )
        ok = missing == 0 and base_missing == 0
        for kind in ("HELP reply", "one-time code"):
            worst, idle_p99 = p99(under[kind]), p99(base[kind])
            ok = ok and worst <= TARGET_P99_SECONDS
            print(
                f"RESULT: {kind} handed to the provider p99 {worst:.2f} s under the backlog "
                f"({worst / idle_p99:.2f} x the idle p99 {idle_p99:.2f} s; target <= "
                f"{TARGET_P99_SECONDS:.0f} s) beside the backlog's "
                f"{'drain' if finished else 'projected drain'} time {drain:.0f} s"
            )
        print(f"check: {missing + base_missing} texts missing: {'ok' if ok else 'FAILED'}")
        return 0 if ok else 1
    finally:
        stop_workers(workers)
        fake.stop()


if __name__ == "__main__":
    sys.exit(main())
