"""Inbound throughput through gunicorn on PostgreSQL, measured against a baseline.

What it measures, in one run and against one server:
  insert     POST /bench/insert/              one INSERT, a plain Django view (bench/urls.py)
  baseline   POST /bench/insert-drf/          the same INSERT as a DRF endpoint: token auth,
                                              JSON body and answer (the issue's floor)
  postback   POST /webhooks/skycore/{token}/  SkyCore N301 for a new number (seed 003 form)
  mo_stop    POST /api/v1/inbound/            "STOP" from a number in 3 programs on the code
Each is reported as requests/s and as a ratio to the baseline (the DRF one-INSERT endpoint,
as issue 14 defines the floor) and to the plain Django view. The phases are interleaved
over several rounds so drift in the machine hits all alike.

Run (PostgreSQL on 127.0.0.1:5432; the database is dropped and created fresh):
    .venv/bin/python bench/bench_inbound.py [--requests 500] [--rounds 2]
        [--concurrency 6] [--workers 3] [--database portal_bench_inbound] [--port 0]
        [--redis-url redis://127.0.0.1:6379/5]
"""

import argparse
import http.client
import json
import os
import socket
import statistics
import subprocess
import sys
import threading
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

from common import create_database_sql

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

PROGRAMS_PER_NUMBER = 3
PHASE_DEADLINE_S = 180  # a phase never runs longer than this, whatever happens
SERVER_START_S = 90  # a loaded 2-core machine can take this long to boot the workers
MO_CODE, POSTBACK_CODE = "70001", "70002"
EASTERN_DAYLIGHT = timezone(timedelta(hours=-4))


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=500, help="per phase and round")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--concurrency", type=int, default=6)
    parser.add_argument("--workers", type=int, default=3, help="gunicorn worker processes")
    parser.add_argument("--database", default="portal_bench_inbound")
    parser.add_argument("--pg", default="postgres://postgres@127.0.0.1:5432")
    parser.add_argument("--port", type=int, default=0, help="gunicorn's port (0: a free one)")
    parser.add_argument(
        "--redis-url",
        default="",
        help="REDIS_URL for the server (the production shape: shared cache and throttle in "
        "Redis); empty: the database cache and throttle",
    )
    return parser.parse_args()


def fresh_database(args):
    import psycopg

    with psycopg.connect(f"{args.pg}/postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{args.database}" WITH (FORCE)')
        conn.execute(create_database_sql(args.database))


def configure_django(args):
    os.environ.update(
        {
            "DJANGO_SETTINGS_MODULE": "bench.settings",
            "DATABASE_URL": f"{args.pg}/{args.database}",
            "SECRET_KEY": "bench-only-secret-key-0123456789abcdefghijklmnopqrstuvwxyz",
            "ALLOWED_HOSTS": "127.0.0.1,localhost",
            # Plain HTTP on loopback: in production TLS ends in front of gunicorn.
            "SECURE_SSL_REDIRECT": "0",
            "REDIS_URL": args.redis_url,
        }
    )
    import django

    django.setup()


def stop_phone(i):
    return f"+1650{2000000 + i:07d}"


def postback_phone(i):
    return f"1415{3000000 + i:07d}"


def prepare_data(args, stop_numbers):
    """Accounts, codes, programs, an API token, and `stop_numbers` numbers each opted in to
    every program on the MO code (through the import service, the fast path)."""
    from django.contrib.auth.models import Permission, User
    from django.core.management import call_command
    from rest_framework.authtoken.models import Token

    from subscriptions.consent import batch, services
    from subscriptions.models import Keyword, ProviderAccount, ProviderKind, ShortCode

    call_command("migrate", verbosity=0)
    console = ProviderAccount.objects.create(name="Console", kind=ProviderKind.CONSOLE)
    skycore = ProviderAccount.objects.create(name="SkyCore", kind=ProviderKind.SKYCORE)
    mo_code = ShortCode.objects.create(code=MO_CODE, name="MO", brand="Bench", provider=console)
    programs = [
        Keyword.objects.create(short_code=mo_code, word=f"PROG{n}", title=f"P{n}")
        for n in range(PROGRAMS_PER_NUMBER)
    ]
    pb_code = ShortCode.objects.create(
        code=POSTBACK_CODE, name="PB", brand="Bench", provider=skycore
    )
    Keyword.objects.create(short_code=pb_code, word="SAVE", provider_ref="1478")
    user = User.objects.create_user("bench-integration")
    user.user_permissions.add(Permission.objects.get(codename="submit_inbound"))
    token = Token.objects.create(user=user).key

    rows = [
        batch.BatchRow(phone=stop_phone(i), keyword=k, subscribe=True)
        for i in range(stop_numbers)
        for k in programs
    ]
    ctx = services.Context(source="import", actor_label="bench setup")
    for start in range(0, len(rows), 3000):
        batch.apply_batch(rows[start : start + 3000], ctx)
    return token, skycore.postback_token


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_gunicorn(args, port):
    # The project's gunicorn.conf.py (gthread workers) applies; only bind and worker count
    # are set here. Its access log goes to stdout, which the bench discards.
    command = [
        str(Path(sys.executable).with_name("gunicorn")),
        "portal.wsgi:application",
        "--bind",
        f"127.0.0.1:{port}",
        "--workers",
        str(args.workers),
        "--chdir",
        str(ROOT),
    ]
    server = subprocess.Popen(command, env=os.environ.copy(), cwd=ROOT, stdout=subprocess.DEVNULL)
    deadline = time.monotonic() + SERVER_START_S
    while time.monotonic() < deadline:
        try:
            status, _ = request(port, "GET", "/healthz", None, {})
            if status == 200:
                return server
        except OSError:
            time.sleep(0.2)
    server.terminate()
    raise SystemExit(f"gunicorn did not answer /healthz within {SERVER_START_S} s")


def request(port, method, path, body, headers):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        conn.request(method, path, body=body, headers=headers)
        response = conn.getresponse()
        response.read()
        return response.status, None
    finally:
        conn.close()


def run_phase(port, make_request, indexes, concurrency):
    """Send one request per index from `concurrency` threads; (seconds, latencies, statuses)."""
    lock = threading.Lock()
    pending = iter(indexes)
    latencies, statuses = [], {}
    deadline = time.monotonic() + PHASE_DEADLINE_S

    def worker():
        while time.monotonic() < deadline:
            with lock:
                i = next(pending, None)
            if i is None:
                return
            method, path, body, headers = make_request(i)
            began = time.perf_counter()
            try:
                status, _ = request(port, method, path, body, headers)
            except OSError as exc:
                status = type(exc).__name__
            elapsed = time.perf_counter() - began
            with lock:
                latencies.append(elapsed)
                statuses[status] = statuses.get(status, 0) + 1

    threads = [threading.Thread(target=worker) for _ in range(concurrency)]
    began = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return time.perf_counter() - began, latencies, statuses


def insert_request(i):
    return "POST", "/bench/insert/", b"", {"Content-Length": "0"}


def baseline_request_factory(api_token):
    def make(i):
        body = json.dumps({"id": f"drf-{i}"}).encode()
        return (
            "POST",
            "/bench/insert-drf/",
            body,
            {"Content-Type": "application/json", "Authorization": f"Token {api_token}"},
        )

    return make


def postback_request_factory(token):
    def make(i):
        # The seed's own offset form ("-04", no minutes).
        stamp = datetime.now(EASTERN_DAYLIGHT).strftime("%Y-%m-%dT%H:%M:%S-04")
        xml = (
            f"<?xml version='1.0'?>\n<POSTBACK>\n<ORIGIN>SUB</ORIGIN>\n<CODE>N301</CODE>\n"
            f"<MOBILE>{postback_phone(i)}</MOBILE>\n<CAMPAIGNREF>1478</CAMPAIGNREF>\n"
            f"<TIMESTAMP>{stamp}</TIMESTAMP>\n<SHORTCODE>{POSTBACK_CODE}</SHORTCODE>\n"
            f"<CAMPAIGNTITLE>Savings</CAMPAIGNTITLE>\n<BRANDNAME>Bench</BRANDNAME>\n"
            f"<SOURCE>API</SOURCE>\n</POSTBACK>"
        ).encode()
        return "POST", f"/webhooks/skycore/{token}/", xml, {"Content-Type": "text/xml"}

    return make


def stop_request_factory(api_token):
    def make(i):
        body = json.dumps(
            {"from": stop_phone(i), "to": MO_CODE, "text": "STOP", "message_id": f"bench-{i}"}
        ).encode()
        return (
            "POST",
            "/api/v1/inbound/",
            body,
            {"Content-Type": "application/json", "Authorization": f"Token {api_token}"},
        )

    return make


def verify(stop_count, postback_count):
    """The work was real: every STOP number is out of every program, every postback in."""
    from subscriptions.models import ShortCodeStop, Status, Subscription

    stopped_out = Subscription.objects.filter(
        short_code__code=MO_CODE, status=Status.OPTED_OUT
    ).count()
    stops = ShortCodeStop.objects.filter(short_code__code=MO_CODE).count()
    joined = Subscription.objects.filter(
        short_code__code=POSTBACK_CODE, status=Status.OPTED_IN
    ).count()
    print(
        f"check: {stops} code stops (expected {stop_count}); {stopped_out} programs opted out "
        f"(expected {stop_count * PROGRAMS_PER_NUMBER}); {joined} postback opt-ins "
        f"(expected {postback_count})"
    )
    return (stops, stopped_out, joined) == (
        stop_count,
        stop_count * PROGRAMS_PER_NUMBER,
        postback_count,
    )


def main():
    args = parse_args()
    warmup = 100
    total = args.requests * args.rounds + warmup
    fresh_database(args)
    configure_django(args)
    print(f"preparing {total} numbers x {PROGRAMS_PER_NUMBER} programs ...", flush=True)
    api_token, postback_token = prepare_data(args, total)
    port = args.port or free_port()
    server = start_gunicorn(args, port)
    phases = {
        "insert": insert_request,
        "baseline": baseline_request_factory(api_token),
        "postback": postback_request_factory(postback_token),
        "mo_stop": stop_request_factory(api_token),
    }
    results = {name: {"seconds": 0.0, "latencies": [], "statuses": {}} for name in phases}
    try:
        for make in phases.values():
            run_phase(port, make, range(warmup), args.concurrency)
        for round_no in range(args.rounds):
            first = warmup + round_no * args.requests
            for name, make in phases.items():
                seconds, latencies, statuses = run_phase(
                    port, make, range(first, first + args.requests), args.concurrency
                )
                result = results[name]
                result["seconds"] += seconds
                result["latencies"] += latencies
                for status, count in statuses.items():
                    result["statuses"][status] = result["statuses"].get(status, 0) + count
                print(
                    f"round {round_no + 1} {name}: {len(latencies) / seconds:.0f} req/s", flush=True
                )
    finally:
        server.terminate()
        server.wait(timeout=30)

    report(args, results)
    ok = verify(total, total)
    bad = {name: r["statuses"] for name, r in results.items() if set(r["statuses"]) != {200}}
    if bad or not ok:
        raise SystemExit(f"FAILED: unexpected answers {bad} or state check failed")


def report(args, results):
    print(
        f"\ngunicorn {args.workers} workers (gunicorn.conf.py: gthread), "
        f"{args.concurrency} client threads, {args.rounds} rounds x {args.requests} "
        "requests per phase, PostgreSQL"
    )
    base_rate = len(results["baseline"]["latencies"]) / results["baseline"]["seconds"]
    plain_rate = len(results["insert"]["latencies"]) / results["insert"]["seconds"]
    print(
        f"{'phase':<10}{'requests':>9}{'req/s':>9}{'ratio':>8}{'plain':>8}{'p50 ms':>9}"
        f"{'p95 ms':>9}  answers"
    )
    for name, result in results.items():
        latencies = sorted(result["latencies"])
        rate = len(latencies) / result["seconds"]
        p50 = statistics.median(latencies) * 1000
        p95 = latencies[int(len(latencies) * 0.95) - 1] * 1000
        print(
            f"{name:<10}{len(latencies):>9}{rate:>9.0f}{rate / base_rate:>8.2f}"
            f"{rate / plain_rate:>8.2f}{p50:>9.1f}{p95:>9.1f}  {result['statuses']}"
        )


if __name__ == "__main__":
    main()
