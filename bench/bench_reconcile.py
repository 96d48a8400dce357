"""Benchmark: reconciliation of many numbers against a fake SFMC that takes 50 ms a call.

    .venv/bin/python bench/bench_reconcile.py [--numbers 200000] [--delay 0.05]
        [--concurrency 4] [--drift 200]

What it does, on its own PostgreSQL database (recreated each run):
1. An SFMC account pointing at the fake SFMC (tests/fakes) on loopback; --numbers numbers
   opted in to one program at the portal and held in at the fake, --drift of them opted
   out at the portal but held in at the fake (a journey re-subscribed them).
2. Baseline, same run: the same number of lookups (500 numbers each) sent straight to the
   fake with `requests` from --concurrency threads: what the client side can do at best.
3. The reconciliation (subscriptions/reconciliation/run.py, PORTAL_RECONCILE_CONCURRENCY =
   --concurrency): lookups, comparison, drift rows, batch rows, the opt-outs sent again.
Reported: lookups/s as a ratio to the ideal (concurrency / delay) and to the baseline,
total time; checked: every number checked once, the drift found and fixed at the fake.
A tiny run is the CI smoke test (tests/bench/test_bench_smoke.py).
"""

import argparse
import os
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

BENCH_SECRET = "bench-only-secret-key-0123456789abcdef0123456789"
BATCH = 500


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--numbers", type=int, default=200_000)
    parser.add_argument("--drift", type=int, default=200)
    parser.add_argument("--delay", type=float, default=0.05, help="fake SFMC latency (s)")
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument(
        "--database-url", default="postgres://postgres@127.0.0.1:5432/portal_bench_reconcile"
    )
    return parser.parse_args(argv)


def configure(args):
    os.environ.update(
        {
            "DJANGO_SETTINGS_MODULE": "portal.settings",
            "DATABASE_URL": args.database_url,
            "SECRET_KEY": BENCH_SECRET,
            "TASKS_BACKEND": "django.tasks.backends.immediate.ImmediateBackend",
            "PORTAL_RECONCILE_CONCURRENCY": str(args.concurrency),
            "LOG_LEVEL": "WARNING",
        }
    )


def recreate_database(database_url):
    import psycopg

    base, _, name = database_url.rpartition("/")
    with psycopg.connect(base + "/postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')


def populate(keyword, fake, numbers, drift):
    """Contacts and subscriptions written directly (bulk), the fake's state set to match."""
    from django.utils import timezone

    from subscriptions.models import Contact, Status, Subscription

    now = timezone.now()
    for start in range(0, numbers, 10_000):
        phones = [f"+1555{4000000 + n:07d}" for n in range(start, min(numbers, start + 10_000))]
        contacts = Contact.objects.bulk_create(Contact(phone=p) for p in phones)
        Subscription.objects.bulk_create(
            Subscription(
                contact=c,
                keyword=keyword,
                short_code=keyword.short_code,
                status=Status.OPTED_OUT if int(c.phone[-7:]) - 4000000 < drift else Status.OPTED_IN,
                last_occurred_at=now,
                last_source="import",
            )
            for c in contacts
        )
        for phone in phones:
            fake.set_held(phone.lstrip("+"), keyword.word, True, keyword.short_code.code)


def baseline(fake, numbers, concurrency):
    """Lookups straight to the fake: a token, then one call per 500 numbers."""
    import requests

    token = requests.post(
        fake.url + "/v2/token",
        json={
            "grant_type": "client_credentials",
            "client_id": "bench-id",
            "client_secret": "bench-secret",
            "account_id": "5001",
        },
        timeout=10,
    ).json()["access_token"]
    batches = [
        [f"1555{4000000 + n:07d}" for n in range(start, min(numbers, start + BATCH))]
        for start in range(0, numbers, BATCH)
    ]
    sessions = {}

    def call(batch):
        import threading

        session = sessions.setdefault(threading.get_ident(), requests.Session())
        response = session.post(
            fake.url + "/sms/v1/contacts/subscriptions",
            json={"mobileNumbers": batch},
            headers={"Authorization": f"Bearer {token}"},
            timeout=30,
        )
        response.raise_for_status()

    started = time.perf_counter()
    with ThreadPoolExecutor(concurrency) as pool:
        list(pool.map(call, batches))
    return len(batches), time.perf_counter() - started


def main(argv=None):
    args = parse_args(argv)
    configure(args)
    recreate_database(args.database_url)

    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)

    from subscriptions.models import (
        Drift,
        Keyword,
        ProviderAccount,
        ProviderKind,
        ShortCode,
    )
    from subscriptions.reconciliation import run as runs
    from subscriptions.reconciliation import service
    from tests.fakes import FakeSfmc

    fake = FakeSfmc(client_id="bench-id", client_secret="bench-secret", account_id="5001")
    try:
        account = ProviderAccount(
            name="SFMC bench",
            kind=ProviderKind.SFMC,
            settings={"auth_base_url": fake.url, "rest_base_url": fake.url, "account_id": "5001"},
        )
        account.set_secrets({"client_id": "bench-id", "client_secret": "bench-secret"})
        account.save()
        code = ShortCode.objects.create(code="55556", name="Bench", brand="Bench", provider=account)
        keyword = Keyword.objects.create(short_code=code, word="DEALS")
        started = time.perf_counter()
        populate(keyword, fake, args.numbers, args.drift)
        print(
            f"{args.numbers} numbers ({args.drift} drifted at the fake) written in "
            f"{time.perf_counter() - started:.1f} s; load average {os.getloadavg()[0]:.1f} "
            f"on {os.cpu_count()} CPUs",
            flush=True,
        )

        fake.delay = args.delay
        base_calls, base_seconds = baseline(fake, args.numbers, args.concurrency)
        base_rate = base_calls / base_seconds
        print(
            f"baseline: {base_calls} lookups straight to the fake in {base_seconds:.1f} s = "
            f"{base_rate:.1f} calls/s",
            flush=True,
        )

        fake.requests.clear()
        reconciliation = service.start(account, enqueue=False)
        started = time.perf_counter()
        done = runs.run(reconciliation.pk)
        elapsed = time.perf_counter() - started
        lookups = len(fake.lookups())
        rate = lookups / elapsed
        ideal = args.concurrency / args.delay
        fixed = sum(
            1 for n in range(args.drift) if fake.state.get((f"1555{4000000 + n:07d}", "DEALS"))
        )
        print(
            f"reconciliation: {done.status}, checked {done.checked}, in step {done.in_step}, "
            f"drift {done.drift} in {elapsed:.1f} s ({lookups} lookups, "
            f"{len(fake.token_requests())} token)"
        )
        print(
            f"RESULT: {rate:.1f} lookups/s = {rate / ideal:.2f} of ideal "
            f"({args.concurrency} in flight / {args.delay * 1000:.0f} ms = {ideal:.0f}/s), "
            f"{rate / base_rate:.2f} of the baseline; total {elapsed:.1f} s for "
            f"{args.numbers} numbers"
        )
        sent = Drift.objects.filter(reconciliation=done, action="opt_out_sent").count()
        ok = (
            done.status == "done"
            and done.checked == args.numbers
            and sent == args.drift
            and fixed == 0
        )
        print(
            f"check: {done.checked}/{args.numbers} checked, {sent}/{args.drift} opt-outs sent "
            f"again, {fixed} still held at the fake: {'ok' if ok else 'FAILED'}"
        )
        return 0 if ok else 1
    finally:
        fake.stop()


if __name__ == "__main__":
    sys.exit(main())
