"""Benchmark of the sendable API through gunicorn on PostgreSQL with 1,000,000 subscriptions.

    .venv/bin/python bench/bench_api.py [--duration 15] [--workers 3] [--threads 4]

Measures, in one run and against the same server:
- baseline: GET bench/constant/, the cheapest authenticated DRF endpoint (token auth,
  permission check, throttle, JSON), at 32 concurrent keep-alive connections;
- GET /api/v1/sendable/ for random loaded numbers at 32 connections: requests/s, p50, p99;
- POST /api/v1/sendable/ with 10,000 numbers per request: numbers/s;
and prints each as a ratio to the baseline (measured first and again last; the mean is
used). The data (500,000 contacts x 2 programs on code 12345, 10% opted out, 10% pending,
1% with an active STOP) is loaded once into the database named by BENCH_DATABASE_URL
(default postgres://postgres@127.0.0.1:5432/portal_bench_api) and reused by later runs.
Every phase is time-bounded and gunicorn is stopped at the end.
"""

import argparse
import asyncio
import json
import os
import random
import signal
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DATABASE_URL = os.environ.get(
    "BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/portal_bench_api"
)
CONTACTS = 500_000
BATCH = 10_000
CONNECTIONS = 32


def server_env():
    return {
        **os.environ,
        "DATABASE_URL": DATABASE_URL,
        "DJANGO_SETTINGS_MODULE": "bench.settings",
        "SECRET_KEY": "bench-only-secret-key-0123456789abcdefghijklmnop",
        "CONN_MAX_AGE": "600",
        "LOG_LEVEL": "WARNING",
        # The throttle stays in the path, with a rate the bench cannot reach.
        "API_THROTTLE_RATE": "100000000/min",
        "PYTHONPATH": str(ROOT),
    }


def ensure_database():
    import psycopg

    name = DATABASE_URL.rsplit("/", 1)[1]
    admin_url = DATABASE_URL.rsplit("/", 1)[0] + "/postgres"
    with psycopg.connect(admin_url, autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone():
            conn.execute(f'CREATE DATABASE "{name}"')


def setup_django():
    os.environ.update(server_env())
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()


LOAD_SQL = [
    """INSERT INTO subscriptions_contact (phone, locale, created_at)
       SELECT '+1555' || lpad(g::text, 7, '0'), '', now() FROM generate_series(0, %(n)s - 1) g
       ON CONFLICT DO NOTHING""",
    """INSERT INTO subscriptions_subscription (contact_id, keyword_id, short_code_id, status,
           created_at, changed_at, last_occurred_at, last_source, pending_since)
       SELECT c.id, k.id, k.short_code_id,
              CASE c.id %% 10 WHEN 0 THEN 'opted_out' WHEN 1 THEN 'pending' ELSE 'opted_in' END,
              now(), now(), now(), 'import', CASE c.id %% 10 WHEN 1 THEN now() END
       FROM subscriptions_contact c CROSS JOIN subscriptions_keyword k
       WHERE k.short_code_id = %(code)s AND c.phone LIKE '+1555%%'
       ON CONFLICT DO NOTHING""",
    """INSERT INTO subscriptions_shortcodestop (contact_id, short_code_id, created_at, source)
       SELECT id, %(code)s, now(), 'mo' FROM subscriptions_contact WHERE id %% 100 = 7
       ON CONFLICT DO NOTHING""",
    "ANALYZE",
]


def load_data():
    """1,000,000 subscriptions on 12345, loaded once; returns the bench user's token key."""
    from django.contrib.auth.models import Permission, User
    from django.core.management import call_command
    from django.db import connection
    from rest_framework.authtoken.models import Token

    from subscriptions.models import Keyword, ProviderAccount, ShortCode, Subscription

    call_command("migrate", verbosity=0)
    account, _ = ProviderAccount.objects.get_or_create(name="Bench console")
    code, _ = ShortCode.objects.get_or_create(
        code="12345", defaults={"name": "Bench", "brand": "Acme", "provider": account}
    )
    for word in ("JOIN", "DEALS"):
        Keyword.objects.get_or_create(short_code=code, word=word)
    if Subscription.objects.filter(short_code=code).count() < 2 * CONTACTS:
        started = time.perf_counter()
        with connection.cursor() as cursor:
            for sql in LOAD_SQL:
                cursor.execute(sql, {"n": CONTACTS, "code": code.pk})
        print(f"loaded data in {time.perf_counter() - started:.1f} s")
    user, _ = User.objects.get_or_create(username="bench-reader")
    user.user_permissions.set(Permission.objects.filter(codename="view_subscription"))
    token, _ = Token.objects.get_or_create(user=user)
    print(f"subscriptions on 12345: {Subscription.objects.filter(short_code=code).count():,}")
    return token.key


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_gunicorn(port, workers, threads):
    command = [
        str(ROOT / ".venv/bin/gunicorn"),
        "portal.wsgi",
        "--bind",
        f"127.0.0.1:{port}",
        "--workers",
        str(workers),
        "--worker-class",
        "gthread",
        "--threads",
        str(threads),
        "--keep-alive",
        "30",
        "--log-level",
        "warning",
    ]
    process = subprocess.Popen(command, cwd=ROOT, env=server_env(), start_new_session=True)
    deadline = time.time() + 60
    while time.time() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return process
        except OSError:
            time.sleep(0.3)
    stop(process)
    raise SystemExit("gunicorn did not start")


def stop(process):
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)


class Client:
    """One keep-alive HTTP/1.1 connection."""

    def __init__(self, port, token):
        self.port, self.token = port, token
        self.reader = self.writer = None

    async def request(self, method, path, body=b""):
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection("127.0.0.1", self.port)
        head = (
            f"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            f"Authorization: Token {self.token}\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\n\r\n"
        ).encode()
        self.writer.write(head + body)
        status_line = await self.reader.readline()
        length, close = 0, False
        while (line := await self.reader.readline()) not in (b"\r\n", b""):
            name, _, value = line.decode().partition(":")
            if name.lower() == "content-length":
                length = int(value)
            elif name.lower() == "connection" and "close" in value.lower():
                close = True
        payload = await self.reader.readexactly(length)
        if close:
            self.writer.close()
            self.writer = None
        status = int(status_line.split()[1])
        if status != 200:
            raise RuntimeError(f"{method} {path[:80]} -> {status}: {payload[:200]!r}")
        return payload


async def run_load(port, token, make_request, connections, duration, warmup):
    """Requests from `connections` clients for warmup + duration seconds; latencies of the
    measured part only."""
    latencies = []
    start = time.perf_counter()
    measure_from, stop_at = start + warmup, start + warmup + duration

    async def worker():
        client = Client(port, token)
        while (now := time.perf_counter()) < stop_at:
            method, path, body = make_request()
            await client.request(method, path, body)
            if now >= measure_from:
                latencies.append(time.perf_counter() - now)

    await asyncio.wait_for(
        asyncio.gather(*(worker() for _ in range(connections))), timeout=warmup + duration + 120
    )
    return latencies


def summary(name, latencies, duration, per_request=1):
    rate = len(latencies) / duration
    ordered = sorted(latencies)
    p50 = statistics.median(ordered) * 1000
    p99 = ordered[int(len(ordered) * 0.99) - 1] * 1000 if ordered else float("nan")
    print(
        f"{name:<34} {rate * per_request:>12,.1f}/s  requests {len(latencies):>6}  "
        f"p50 {p50:8.1f} ms  p99 {p99:8.1f} ms"
    )
    return rate * per_request


def random_phone():
    return f"1555{random.randrange(CONTACTS):07d}"


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--duration", type=float, default=15.0)
    parser.add_argument("--warmup", type=float, default=3.0)
    parser.add_argument("--workers", type=int, default=3)
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument("--batch-connections", type=int, default=2)
    args = parser.parse_args()

    ensure_database()
    setup_django()
    token = load_data()
    port = free_port()
    server = start_gunicorn(port, args.workers, args.threads)
    print(
        f"gunicorn: {args.workers} workers x {args.threads} threads (gthread), "
        f"{os.cpu_count()} CPUs, client and server on the same machine"
    )
    try:

        def load(maker, connections):
            return asyncio.run(
                run_load(port, token, maker, connections, args.duration, args.warmup)
            )

        baseline = summary(
            "baseline GET bench/constant/",
            load(lambda: ("GET", "/bench/constant/", b""), CONNECTIONS),
            args.duration,
        )
        single = summary(
            "GET sendable/ (32 connections)",
            load(
                lambda: (
                    "GET",
                    f"/api/v1/sendable/?phone={random_phone()}&short_code=12345&keyword=JOIN",
                    b"",
                ),
                CONNECTIONS,
            ),
            args.duration,
        )

        def batch_request():
            phones = [random_phone() for _ in range(BATCH)]
            return (
                "POST",
                "/api/v1/sendable/",
                json.dumps({"short_code": "12345", "phones": phones}).encode(),
            )

        batch_latencies = load(batch_request, args.batch_connections)
        numbers = summary(
            f"POST sendable/ x{BATCH:,} numbers ({args.batch_connections} conn)",
            batch_latencies,
            args.duration,
            per_request=BATCH,
        )
        # Measured again last: on a shared machine the spread between the two baselines
        # shows how far other load moved the numbers during the run.
        again = summary(
            "baseline again (after)",
            load(lambda: ("GET", "/bench/constant/", b""), CONNECTIONS),
            args.duration,
        )
        baseline = (baseline + again) / 2
        print(f"baseline used for ratios (mean of both): {baseline:,.1f} requests/s")
        print(f"ratio single GET sendable / baseline requests: {single / baseline:.2f}")
        print(f"ratio batch numbers / baseline requests:       {numbers / baseline:.1f}")
    finally:
        stop(server)


if __name__ == "__main__":
    main()
