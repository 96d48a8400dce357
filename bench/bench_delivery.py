"""Benchmark: provider delivery through real `manage.py db_worker` processes.

    .venv/bin/python bench/bench_delivery.py [--opt-outs 10000] [--singles 2000]
        [--workers 4] [--threads 8] [--calls-per-worker 4] [--delay 0.05]

What it does, on its own PostgreSQL database (recreated each run, default portal_bench_delivery):
1. A SkyCore account pointing at the fake SkyCore server (tests/fakes) on loopback.
2. --workers `db_worker --threads T` processes and the sweeper start, as a deployment runs
   them, with PORTAL_DELIVERY_CALLS_PER_WORKER = --calls-per-worker (C). Every phase waits
   until each worker has connected, so no phase measures a process starting up (that
   start-up time is printed on its own).
3. Baseline, same run: --baseline numbers opt in by an import; the workers deliver their
   `subscribe` calls with the fake answering at once (what the pipeline itself costs).
4. The measured numbers are imported as opted in *as reported by SkyCore itself* (the
   no-echo path: outbox rows recorded as in effect, no call), so that the provider is
   known to have them; the fake now takes --delay seconds per call.
5. Imported opt-outs (the issue's measure): --opt-outs numbers opt out by an import, in one
   transaction, so all their outbox rows and grouped tasks (250 rows each) appear at once.
6. One by one: --singles numbers opt out as API, web and handset opt-outs do, each its own
   `deliver_sync` task (written in one transaction too).
Each measured phase reports calls/s from the commit until every row is recorded, and its
ratio to the ideal for the concurrency the workers really have: provider calls in flight at
most / delay. A worker keeps at most C calls in flight (its call slots); a grouped task
uses all C, one-by-one tasks one each on its T threads, so the ideal is workers x C / delay
for the import and workers x min(T, C) / delay for the one-by-one phase.
The outcome is checked (every number unsubscribed at the fake, one call each, nothing
failed; exit status 1 otherwise); each phase stops by itself after --max-seconds.
"""

import argparse
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from common import create_database_sql

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

BENCH_SECRET = "bench-only-secret-key-0123456789abcdef0123456789"
APP_NAME = "bench-delivery-worker"


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--opt-outs", type=int, default=10_000)
    parser.add_argument("--singles", type=int, default=2_000, help="one-by-one opt-outs")
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--threads", type=int, default=8, help="db_worker --threads")
    parser.add_argument(
        "--calls-per-worker",
        type=int,
        default=4,
        help="PORTAL_DELIVERY_CALLS_PER_WORKER: provider calls a worker keeps in flight",
    )
    parser.add_argument(
        "--baseline",
        type=int,
        default=1000,
        help="opt-ins delivered at 0 ms latency first, as the baseline",
    )
    parser.add_argument("--delay", type=float, default=0.05, help="fake provider latency (s)")
    parser.add_argument(
        "--database-url", default="postgres://postgres@127.0.0.1:5432/portal_bench_delivery"
    )
    parser.add_argument(
        "--max-seconds",
        type=float,
        default=600,
        help="give up (and say so) after this long per phase",
    )
    return parser.parse_args()


def configure(database_url):
    os.environ.update(
        {
            "DJANGO_SETTINGS_MODULE": "portal.settings",
            "DATABASE_URL": database_url,
            "SECRET_KEY": BENCH_SECRET,
            "TASKS_BACKEND": "django_tasks_db.DatabaseBackend",
            "LOG_LEVEL": "WARNING",
        }
    )


def recreate_database(database_url):
    import psycopg

    base, _, name = database_url.rpartition("/")
    with psycopg.connect(base + "/postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(create_database_sql(name))


def manage(*args, env=None):
    return subprocess.Popen(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env={**os.environ, **(env or {})},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def start_workers(args):
    """--workers db_worker processes and the sweeper, as a deployment runs them. Each worker
    names its database connections (PGAPPNAME) so that `wait_ready` can see it running."""
    env = {
        "PORTAL_DELIVERY_CALLS_PER_WORKER": str(args.calls_per_worker),
        # As deploy/systemd's worker units run them: a worker's threads keep their database
        # connections from one task to the next (0 reconnects for every task).
        "CONN_MAX_AGE": "60",
    }
    flags = ["--interval", "0.05", "--no-startup-delay", "--threads", str(args.threads)]
    workers = [
        manage("db_worker", *flags, env={**env, "PGAPPNAME": f"{APP_NAME}-{n}"})
        for n in range(args.workers)
    ]
    return [*workers, manage("sweep_outbox", "--every", "10", env=env)]


def wait_ready(args):
    """Seconds until every worker has been seen polling the queue, or None."""
    from django.db import connection

    started, seen = time.monotonic(), set()
    while time.monotonic() - started < args.max_seconds:
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT DISTINCT application_name FROM pg_stat_activity "
                "WHERE application_name LIKE %s",
                [f"{APP_NAME}-%"],
            )
            seen.update(name for (name,) in cursor.fetchall())
        if len(seen) >= args.workers:
            return time.monotonic() - started
        time.sleep(0.005)
    return None


def stop_workers(workers):
    for worker in workers:
        worker.send_signal(signal.SIGTERM)
    for worker in workers:
        try:
            worker.wait(timeout=15)
        except subprocess.TimeoutExpired:
            worker.kill()


def wait_until_delivered(started, max_seconds):
    """Seconds from `started` until no sync is pending or sending, or None."""
    from subscriptions.models import ProviderSync

    while time.monotonic() - started < max_seconds:
        if not ProviderSync.objects.filter(status__in=["pending", "sending"]).exists():
            return time.monotonic() - started
        time.sleep(0.05)
    return None


def change(keyword, phones, subscribe, source="import", origin_account_id=None):
    """The consent changes, in one transaction: their outbox rows and tasks appear at once.
    An import's rows go as grouped tasks; any other source's as a task per row."""
    from django.db import transaction

    from subscriptions.consent import batch
    from subscriptions.consent.batch import BatchRow
    from subscriptions.consent.services import Context

    committed = []
    with transaction.atomic():
        # Runs first after the commit, before the enqueues the changes registered.
        transaction.on_commit(lambda: committed.append(time.monotonic()))
        for start in range(0, len(phones), 1000):
            rows = [
                BatchRow(phone=p, keyword=keyword, subscribe=subscribe)
                for p in phones[start : start + 1000]
            ]
            ctx = Context(source=source, actor_label="bench", origin_account_id=origin_account_id)
            batch.apply_batch(rows, ctx)
    return committed[0]


def run_phase(label, fake, keyword, phones, subscribe, args, source="import"):
    fake.requests.clear()
    started = time.monotonic()
    committed = change(keyword, phones, subscribe, source)
    print(
        f"{label}: {len(phones)} changes, outbox rows and tasks committed in "
        f"{committed - started:.1f} s",
        flush=True,
    )
    elapsed = wait_until_delivered(committed, args.max_seconds)
    calls = len(fake.requests)
    if elapsed is None or calls < 2:
        print(f"{label}: NOT FINISHED after {args.max_seconds:.0f} s ({calls} calls)")
        return None
    first, last = fake.requests[0].received_at, fake.requests[-1].received_at
    print(
        f"{label}: {calls} calls in {elapsed:.1f} s from the commit = "
        f"{calls / elapsed:.1f} calls/s (first call {first - committed:.2f} s after the "
        f"commit; first to last call {(calls - 1) / (last - first):.1f} calls/s; all "
        f"recorded {committed + elapsed - last:.2f} s after the last)",
        flush=True,
    )
    return calls / elapsed


def report(label, rate, in_flight, args):
    ideal = in_flight / args.delay
    if rate is None:
        print(f"RESULT {label}: not finished (ideal {ideal:.1f} calls/s)")
        return
    print(
        f"RESULT {label}: {rate:.1f} calls/s = {rate / ideal:.2f} of ideal {ideal:.1f} "
        f"({in_flight} calls in flight at most / {args.delay * 1000:.0f} ms)"
    )


def unsubscribed(fake, prefix):
    return sum(
        1 for (phone, _), on in fake.state.items() if on is False and phone.startswith(prefix)
    )


def main():
    args = parse_args()
    configure(args.database_url)
    recreate_database(args.database_url)

    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)

    from subscriptions.models import (
        Keyword,
        ProviderAccount,
        ProviderKind,
        ProviderSync,
        ShortCode,
    )
    from tests.fakes import FakeSkyCore

    fake = FakeSkyCore(api_key="bench-key")
    workers = []
    try:
        account = ProviderAccount(
            name="SkyCore bench", kind=ProviderKind.SKYCORE, settings={"api_url": fake.api_url}
        )
        account.set_secrets({"api_key": "bench-key"})
        account.save()
        code = ShortCode.objects.create(code="55555", name="Bench", brand="Bench", provider=account)
        keyword = Keyword.objects.create(short_code=code, word="DEALS", provider_ref="1478")

        baseline_phones = [f"+1556{3000000 + i:07d}" for i in range(args.baseline)]
        phones = [f"+1555{3000000 + i:07d}" for i in range(args.opt_outs)]
        singles = [f"+1557{3000000 + i:07d}" for i in range(args.singles)]
        print(
            f"{args.workers} db_worker processes x {args.threads} threads, "
            f"{args.calls_per_worker} provider calls in flight per worker at most, + sweeper; "
            f"PostgreSQL {args.database_url.rpartition('/')[2]}; load average before: "
            f"{os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs",
            flush=True,
        )
        workers = start_workers(args)
        ready = wait_ready(args)
        if ready is None:
            print(f"workers NOT READY after {args.max_seconds:.0f} s")
            sys.exit(1)
        print(f"workers polling {ready:.1f} s after they were started", flush=True)

        fake.delay = 0.0
        baseline = run_phase(
            "baseline (imported opt-ins, provider answers at once)",
            fake,
            keyword,
            baseline_phones,
            True,
            args,
        )
        change(keyword, phones + singles, True, origin_account_id=account.pk)
        echoes = ProviderSync.objects.filter(operation="echo").count()
        print(f"{echoes} numbers known opted in at SkyCore (echo rows, no calls)", flush=True)
        fake.delay = args.delay
        delay_ms = f"{args.delay * 1000:.0f} ms"
        imported = run_phase(
            f"imported opt-outs (provider takes {delay_ms})", fake, keyword, phones, False, args
        )
        imported_calls = len(fake.requests)
        one_by_one = None
        if singles:
            one_by_one = run_phase(
                f"one-by-one opt-outs (provider takes {delay_ms})",
                fake,
                keyword,
                singles,
                False,
                args,
                source="api",
            )
        print(f"load average after: {os.getloadavg()[0]:.1f}")
        report("imported opt-outs", imported, args.workers * args.calls_per_worker, args)
        if singles:
            in_flight = args.workers * min(args.threads, args.calls_per_worker)
            report("one-by-one opt-outs", one_by_one, in_flight, args)
        if baseline is not None:
            print(f"baseline at 0 ms: {baseline:.1f} calls/s")
        failed = ProviderSync.objects.filter(status="failed").count()
        out = unsubscribed(fake, "1555"), unsubscribed(fake, "1557")
        ok = out == (args.opt_outs, args.singles) and not failed
        ok = ok and imported_calls == args.opt_outs and len(fake.requests) == args.singles
        print(
            f"check: {out[0]}/{args.opt_outs} imported and {out[1]}/{args.singles} one-by-one "
            f"numbers unsubscribed at the fake, {imported_calls} + {len(fake.requests)} "
            f"unsubscribe calls, {failed} failed syncs: {'ok' if ok else 'FAILED'}"
        )
        if not ok:
            sys.exit(1)
    finally:
        stop_workers(workers)
        fake.stop()


if __name__ == "__main__":
    main()
