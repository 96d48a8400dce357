"""Benchmark: provider delivery through real `manage.py db_worker` processes.

    .venv/bin/python bench/bench_delivery.py [--opt-outs 10000] [--workers 4] [--delay 0.05]

What it does, on its own PostgreSQL database (recreated each run, default portal_bench_delivery):
1. A SkyCore account pointing at the fake SkyCore server (tests/fakes) on loopback.
2. Baseline, same run: --baseline numbers opt in; the workers deliver their `subscribe`
   calls with the fake answering at once (what the pipeline itself costs per call).
3. The measured numbers are imported as opted in *as reported by SkyCore itself* (the
   no-echo path: outbox rows recorded as in effect, no call), so that the provider is
   known to have them. Then their opt-outs are imported (outbox rows and tasks written
   before the workers start) and the workers deliver the `unsubscribe` calls to the fake
   that takes --delay seconds per call. Reported: calls/s, and the ratio to the ideal
   workers x threads / delay (a db_worker runs one task at a time: threads = 1).
The sweeper runs beside the workers as in a deployment. The outcome is checked (every
number unsubscribed at the fake, one call each, nothing failed); each phase stops by
itself after --max-seconds.
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


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--opt-outs", type=int, default=10_000)
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument(
        "--calls-per-task",
        type=int,
        default=8,
        help="PORTAL_DELIVERY_CALLS_PER_TASK: provider calls a grouped task keeps in flight",
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


def concurrency(args):
    """Provider calls the workers can have in flight at once: each db_worker runs one task
    at a time, and a grouped task (an import's rows) keeps --calls-per-task calls going."""
    return args.workers * args.calls_per_task


def recreate_database(database_url):
    import psycopg

    base, _, name = database_url.rpartition("/")
    with psycopg.connect(base + "/postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(create_database_sql(name))


def manage(*args):
    return subprocess.Popen(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=os.environ.copy(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def start_workers(args):
    """--workers db_worker processes and the sweeper, as a deployment runs them."""
    os.environ["PORTAL_DELIVERY_CALLS_PER_TASK"] = str(args.calls_per_task)
    workers = [
        manage("db_worker", "--interval", "0.05", "--no-startup-delay") for _ in range(args.workers)
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


def wait_until_delivered(max_seconds):
    """Seconds until no sync is pending or sending, or None after max_seconds."""
    from subscriptions.models import ProviderSync

    started = time.monotonic()
    while time.monotonic() - started < max_seconds:
        if not ProviderSync.objects.filter(status__in=["pending", "sending"]).exists():
            return time.monotonic() - started
        time.sleep(0.2)
    return None


def import_rows(keyword, phones, subscribe, origin_account_id=None):
    from subscriptions.consent import batch
    from subscriptions.consent.batch import BatchRow
    from subscriptions.consent.services import Context

    for start in range(0, len(phones), 1000):
        rows = [
            BatchRow(phone=p, keyword=keyword, subscribe=subscribe)
            for p in phones[start : start + 1000]
        ]
        ctx = Context(source="import", actor_label="bench", origin_account_id=origin_account_id)
        batch.apply_batch(rows, ctx)


def run_phase(label, fake, keyword, phones, subscribe, args):
    fake.requests.clear()
    started = time.monotonic()
    import_rows(keyword, phones, subscribe)
    print(
        f"{label}: {len(phones)} changes and their outbox rows written in "
        f"{time.monotonic() - started:.1f} s",
        flush=True,
    )
    workers = start_workers(args)
    workers_started = time.monotonic()
    try:
        elapsed = wait_until_delivered(args.max_seconds)
    finally:
        stop_workers(workers)
    calls = len(fake.requests)
    if elapsed is None or calls < 2:
        print(f"{label}: NOT FINISHED after {args.max_seconds:.0f} s ({calls} calls)")
        return None
    first, last = fake.requests[0].received_at, fake.requests[-1].received_at
    steady = (calls - 1) / (last - first)
    print(
        f"{label}: {calls} calls in {elapsed:.1f} s from worker start = "
        f"{calls / elapsed:.1f} calls/s (first to last call: {steady:.1f} calls/s; "
        f"first call {first - workers_started:.1f} s after the workers started, all "
        f"recorded {workers_started + elapsed - last:.1f} s after the last)",
        flush=True,
    )
    return calls / elapsed, steady


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
        print(
            f"{args.workers} db_worker processes x {args.calls_per_task} calls per task "
            f"+ sweeper, PostgreSQL "
            f"{args.database_url.rpartition('/')[2]}, load average before: "
            f"{os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs",
            flush=True,
        )

        fake.delay = 0.0
        baseline = run_phase(
            "baseline (opt-ins, provider answers at once)",
            fake,
            keyword,
            baseline_phones,
            True,
            args,
        )
        import_rows(keyword, phones, True, origin_account_id=account.pk)
        echoes = ProviderSync.objects.filter(operation="echo").count()
        print(f"{echoes} numbers known opted in at SkyCore (echo rows, no calls)", flush=True)
        fake.delay = args.delay
        measured = run_phase(
            f"opt-outs (provider takes {args.delay * 1000:.0f} ms)",
            fake,
            keyword,
            phones,
            False,
            args,
        )

        ideal = concurrency(args) / args.delay
        unsubscribed = sum(
            1 for (phone, _), on in fake.state.items() if on is False and phone.startswith("1555")
        )
        failed = ProviderSync.objects.filter(status="failed").count()
        print(
            f"ideal: {args.workers} workers x {args.calls_per_task} calls in flight / "
            f"{args.delay * 1000:.0f} ms = "
            f"{ideal:.1f} calls/s; load average after: {os.getloadavg()[0]:.1f}"
        )
        if measured:
            print(
                f"RESULT: {measured[0]:.1f} calls/s = {measured[0] / ideal:.2f} of ideal "
                f"(first to last call {measured[1]:.1f} calls/s = "
                f"{measured[1] / ideal:.2f}); baseline at 0 ms: "
                f"{baseline[0] if baseline else float('nan'):.1f} calls/s"
            )
        print(
            f"check: {unsubscribed}/{args.opt_outs} numbers unsubscribed at the fake, "
            f"{len(fake.requests)} unsubscribe calls, {failed} failed syncs"
        )
    finally:
        fake.stop()


if __name__ == "__main__":
    main()
