"""Benchmark of the sendable API through gunicorn on PostgreSQL with 1,000,000 subscriptions.

    python bench/bench_api.py [--duration 15] [--workers 3] [--threads 4] [--tiny]
        [--database portal_bench_api]

Measures, in one run and against the same server (the project's gunicorn.conf.py, gthread,
--workers x --threads, 32 keep-alive connections):
- floor: GET bench/bare/, a bare token-authenticated DRF endpoint returning a constant
  (stock TokenAuthentication, IsAuthenticated, no throttle): what DRF itself costs;
- GET bench/constant/, the same with the API's own authentication, permission check and
  throttle: what the project's stack costs before any view;
- GET /api/v1/sendable/ for random loaded numbers: requests/s, p50, p99;
- POST /api/v1/sendable/ with 10,000 numbers per request (one in a hundred invalid, answered
  per item): numbers/s;
and prints each as a ratio to the floor (measured first and again last; the mean is used).
The data (500,000 contacts x 2 programs on code 12345, 10% opted out, 10% pending, 1% with
an active STOP) is loaded once into the database (BENCH_DATABASE_URL, or --database on the
local server) and reused by later runs. --tiny: 2,000 contacts, 1 s phases, 1 worker (the
CI smoke test: it shows the bench still runs, not how fast). Every phase is time-bounded
and gunicorn is stopped at the end.
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

from common import create_database_sql

ROOT = Path(__file__).resolve().parent.parent
SERVER = os.environ.get("BENCH_PG", "postgres://postgres@127.0.0.1:5432")
CODE = "12345"


def server_env(database_url):
    return {
        **os.environ,
        "DATABASE_URL": database_url,
        "DJANGO_SETTINGS_MODULE": "bench.settings",
        "SECRET_KEY": "bench-only-secret-key-0123456789abcdefghijklmnop",
        "DEBUG": "0",
        # Production settings but plain HTTP: loopback has no TLS (without these every
        # request is a 301 to https://).
        "SECURE_SSL_REDIRECT": "0",
        "SECURE_HSTS_SECONDS": "0",
        "SECURE_COOKIES": "0",
        "CONN_MAX_AGE": "600",
        "LOG_LEVEL": "WARNING",
        # The throttle stays in the path, with a rate the bench cannot reach.
        "API_THROTTLE_RATE": "100000000/min",
        "PYTHONPATH": str(ROOT),
    }


def ensure_database(database_url):
    import psycopg

    name = database_url.rsplit("/", 1)[1]
    admin_url = database_url.rsplit("/", 1)[0] + "/postgres"
    with psycopg.connect(admin_url, autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone():
            conn.execute(create_database_sql(name))


def setup_django(database_url):
    os.environ.update(server_env(database_url))
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
    """INSERT INTO subscriptions_shortcodestop
           (contact_id, short_code_id, created_at, latest_at, source)
       SELECT id, %(code)s, now(), now(), 'mo' FROM subscriptions_contact WHERE id %% 100 = 7
       ON CONFLICT DO NOTHING""",
    # VACUUM as autovacuum leaves a table at rest: the visibility map set, which the
    # index-only lookups of batch sendable need.
    "VACUUM ANALYZE",
]


def load_data(contacts):
    """2 x `contacts` subscriptions on 12345, loaded once; returns the bench user's token key."""
    from django.contrib.auth.models import Permission, User
    from django.core.management import call_command
    from django.db import connection
    from rest_framework.authtoken.models import Token

    from subscriptions.models import Keyword, ProviderAccount, ShortCode, Subscription

    call_command("migrate", verbosity=0)
    account, _ = ProviderAccount.objects.get_or_create(name="Bench console")
    code, _ = ShortCode.objects.get_or_create(
        code=CODE, defaults={"name": "Bench", "brand": "Acme", "provider": account}
    )
    for word in ("JOIN", "DEALS"):
        Keyword.objects.get_or_create(short_code=code, word=word)
    if Subscription.objects.filter(short_code=code).count() < 2 * contacts:
        started = time.perf_counter()
        with connection.cursor() as cursor:
            for sql in LOAD_SQL:
                cursor.execute(sql, {"n": contacts, "code": code.pk})
        print(f"loaded data in {time.perf_counter() - started:.1f} s")
    user, _ = User.objects.get_or_create(username="bench-reader")
    user.user_permissions.set(Permission.objects.filter(codename="view_subscription"))
    token, _ = Token.objects.get_or_create(user=user)
    print(f"subscriptions on {CODE}: {Subscription.objects.filter(short_code=code).count():,}")
    return token.key


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_gunicorn(port, workers, threads, database_url):
    # The project's gunicorn.conf.py applies (gthread, its timeouts, its access log, which
    # goes to stdout and is discarded here); the shape is set on the command line.
    command = [
        str(Path(sys.executable).with_name("gunicorn")),
        "portal.wsgi",
        "--bind",
        f"127.0.0.1:{port}",
        "--workers",
        str(workers),
        "--threads",
        str(threads),
        "--keep-alive",
        "30",
        "--max-requests",
        "0",
        "--log-level",
        "warning",
    ]
    process = subprocess.Popen(
        command,
        cwd=ROOT,
        env=server_env(database_url),
        start_new_session=True,
        stdout=subprocess.DEVNULL,
    )
    deadline = time.time() + 90
    while time.time() < deadline:
        if process.poll() is not None:
            raise SystemExit("gunicorn exited at start")
        try:  # a worker answers (the master alone accepts connections before any is up)
            with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
                sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
                if sock.recv(64).startswith(b"HTTP/1.1 200"):
                    return process
        except OSError:
            pass
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
            process.wait()


REQUEST_TIMEOUT = 30


class Client:
    """One keep-alive HTTP/1.1 connection. Reads Content-Length and chunked answers, opens
    a new connection when the server closed the old one, and gives up on a request after
    REQUEST_TIMEOUT seconds (a stalled server fails the bench instead of hanging it)."""

    def __init__(self, port, token):
        self.port, self.token = port, token
        self.reader = self.writer = None

    async def request(self, method, path, body=b""):
        return await asyncio.wait_for(self._request(method, path, body), REQUEST_TIMEOUT)

    def close(self):
        if self.writer is not None:
            self.writer.close()
        self.reader = self.writer = None

    async def _request(self, method, path, body):
        for _attempt in (1, 2):
            if self.writer is None:
                self.reader, self.writer = await asyncio.open_connection("127.0.0.1", self.port)
            head = (
                f"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                f"Authorization: Token {self.token}\r\nContent-Type: application/json\r\n"
                f"Content-Length: {len(body)}\r\n\r\n"
            ).encode()
            self.writer.write(head + body)
            await self.writer.drain()
            status_line = await self.reader.readline()
            if status_line:
                break
            self.close()  # the server closed the idle connection: once more on a new one
        else:
            raise RuntimeError(f"{method} {path[:80]}: connection closed without an answer")
        length, close, chunked = 0, False, False
        while (line := await self.reader.readline()) not in (b"\r\n", b""):
            name, _, value = line.decode("latin-1").partition(":")
            name, value = name.strip().lower(), value.strip().lower()
            if name == "content-length":
                length = int(value)
            elif name == "connection" and "close" in value:
                close = True
            elif name == "transfer-encoding" and "chunked" in value:
                chunked = True
        if chunked:
            parts = []
            while size := int((await self.reader.readline()).split(b";")[0], 16):
                parts.append(await self.reader.readexactly(size))
                await self.reader.readline()
            await self.reader.readline()
            payload = b"".join(parts)
        else:
            payload = await self.reader.readexactly(length)
        if close:
            self.close()
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
        try:
            while (now := time.perf_counter()) < stop_at:
                method, path, body = make_request()
                await client.request(method, path, body)
                if now >= measure_from:
                    latencies.append(time.perf_counter() - now)
        finally:
            client.close()

    await asyncio.wait_for(
        asyncio.gather(*(worker() for _ in range(connections))),
        timeout=warmup + duration + REQUEST_TIMEOUT + 30,
    )
    return latencies


def summary(name, latencies, duration, per_request=1):
    """(rate per second, p99 in ms), printed."""
    rate = len(latencies) / duration
    ordered = sorted(latencies)
    p50 = statistics.median(ordered) * 1000 if ordered else float("nan")
    p99 = ordered[max(int(len(ordered) * 0.99) - 1, 0)] * 1000 if ordered else float("nan")
    print(
        f"{name:<44} {rate * per_request:>12,.1f}/s  requests {len(latencies):>6}  "
        f"p50 {p50:8.1f} ms  p99 {p99:8.1f} ms",
        flush=True,
    )
    return rate * per_request, p99


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=float, default=15.0)
    parser.add_argument("--warmup", type=float, default=3.0)
    parser.add_argument("--workers", type=int, default=3)
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--batch-connections", type=int, default=2)
    parser.add_argument("--contacts", type=int, default=500_000)
    parser.add_argument("--batch", type=int, default=10_000, help="numbers per batch request")
    parser.add_argument("--database", default="portal_bench_api")
    parser.add_argument(
        "--tiny", action="store_true", help="a smoke run (CI): seconds, not minutes"
    )
    args = parser.parse_args()
    if args.tiny:
        args.duration, args.warmup, args.workers, args.threads = 1.0, 0.5, 1, 2
        args.connections, args.batch_connections, args.contacts, args.batch = 4, 1, 2000, 200
    args.database_url = os.environ.get("BENCH_DATABASE_URL", f"{SERVER}/{args.database}")
    return args


def main():
    args = parse_args()
    ensure_database(args.database_url)
    setup_django(args.database_url)
    token = load_data(args.contacts)
    port = free_port()
    server = start_gunicorn(port, args.workers, args.threads, args.database_url)
    print(
        f"gunicorn: {args.workers} workers x {args.threads} threads (gthread), "
        f"{os.cpu_count()} CPUs, client and server on the same machine, "
        f"load average {os.getloadavg()[0]:.1f}",
        flush=True,
    )

    def random_phone():
        return f"1555{random.randrange(args.contacts):07d}"

    def batch_request():
        phones = [random_phone() for _ in range(args.batch)]
        phones[:: max(args.batch // 100, 1)] = ["not-a-number"] * len(
            phones[:: max(args.batch // 100, 1)]
        )
        body = {"short_code": CODE, "phones": phones}
        return "POST", "/api/v1/sendable/", json.dumps(body).encode()

    def load(name, maker, connections, per_request=1):
        latencies = asyncio.run(
            run_load(port, token, maker, connections, args.duration, args.warmup)
        )
        return summary(name, latencies, args.duration, per_request)

    try:
        bare = load(
            "floor GET bench/bare/ (stock DRF token auth)",
            lambda: ("GET", "/bench/bare/", b""),
            args.connections,
        )
        constant = load(
            "GET bench/constant/ (the API's auth+throttle)",
            lambda: ("GET", "/bench/constant/", b""),
            args.connections,
        )
        single = load(
            f"GET sendable/ ({args.connections} connections)",
            lambda: (
                "GET",
                f"/api/v1/sendable/?phone={random_phone()}&short_code={CODE}&keyword=JOIN",
                b"",
            ),
            args.connections,
        )
        numbers, _ = load(
            f"POST sendable/ x{args.batch:,} ({args.batch_connections} conn), numbers",
            batch_request,
            args.batch_connections,
            per_request=args.batch,
        )
        # Measured again last: on a shared machine the spread between the two floors shows
        # how far other load moved the numbers during the run.
        again = load("floor again (after)", lambda: ("GET", "/bench/bare/", b""), args.connections)
        floor = (bare[0] + again[0]) / 2
        floor_p99 = (bare[1] + again[1]) / 2
        print(
            f"floor used for ratios (mean of both): {floor:,.1f} requests/s, p99 {floor_p99:.1f} ms"
        )
        print(f"ratio constant (API stack) / floor:    {constant[0] / floor:.2f}")
        print(f"ratio GET sendable / floor:            {single[0] / floor:.2f}  (must >= 0.5)")
        print(f"ratio GET sendable p99 / floor p99:    {single[1] / floor_p99:.2f}  (must <= 2)")
        print(f"batch sendable numbers/s:              {numbers:,.0f}  (must >= 50,000)")
    finally:
        stop(server)


if __name__ == "__main__":
    main()
