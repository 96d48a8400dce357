"""Benchmark of the preferences page on real servers: gunicorn on loopback, PostgreSQL.

1. Enumeration by timing: asking a code for a KNOWN number vs an UNKNOWN number (the same
   answer must also take the same time). Requests are interleaved; the baseline is a plain
   GET of the start page in the same run.
2. The signed-in page for a number with few programs vs one with many (the page's query
   count is constant; its time should barely move).

Usage (own database, created and migrated here; stops by itself in a few minutes):
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/portal_bench_preferences \\
        .venv/bin/python bench/preferences_page.py [--rounds 300]
"""

import argparse
import os
import re
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
ENV = {
    "DJANGO_SETTINGS_MODULE": "portal.settings",
    "DEBUG": "0",
    "SECRET_KEY": "bench-" + "x" * 50,
    "ALLOWED_HOSTS": "127.0.0.1",
    "SECURE_COOKIES": "0",
    # Production settings but plain HTTP: loopback has no TLS.
    "SECURE_SSL_REDIRECT": "0",
    "SECURE_HSTS_SECONDS": "0",
    "LOG_LEVEL": "WARNING",
    # The bench is one address; as behind a proxy, each request says which client it is for,
    # so the per-address limit (10 an hour) does not turn the bench into a 429 bench.
    "PORTAL_PROXY_HOPS": "1",
}


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _setup_data(known_count, many_programs):
    import django

    os.environ.update(ENV)
    django.setup()
    from django.core.management import call_command

    from subscriptions.consent import batch, services
    from subscriptions.models import Keyword, ProviderAccount, ShortCode

    call_command("migrate", verbosity=0)
    if ShortCode.objects.filter(code="55550").exists():
        return
    account = ProviderAccount.objects.create(name="bench console")
    codes = [
        ShortCode.objects.create(
            code=f"5555{i}", name=f"bench {i}", brand=f"Brand {i}", provider=account
        )
        for i in range(5)
    ]
    keywords = [
        Keyword.objects.create(
            short_code=codes[i % 5],
            word=f"P{i}",
            title=f"Program {i}",
            description="Bench program.",
        )
        for i in range(many_programs)
    ]
    rows = [
        batch.BatchRow(phone=f"+1555600{n:04d}", keyword=keywords[0], subscribe=True)
        for n in range(known_count)
    ]
    rows += [batch.BatchRow(phone="+15557000000", keyword=k, subscribe=True) for k in keywords]
    batch.apply_batch(rows, services.Context(source="import", actor_label="bench"))


def _timed(session, method, url, **kwargs):
    start = time.perf_counter()
    response = session.request(method, url, allow_redirects=False, timeout=30, **kwargs)
    return (time.perf_counter() - start) * 1000, response


def _ask_code(base, phone, n):
    import requests

    session = requests.Session()
    page = session.get(f"{base}/preferences/", timeout=30)
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text).group(1)
    forwarded = {"X-Forwarded-For": f"10.{n // 65536 % 256}.{n // 256 % 256}.{n % 256}"}
    ms, response = _timed(
        session,
        "POST",
        f"{base}/preferences/",
        data={"phone": phone, "csrfmiddlewaretoken": token},
        headers={**forwarded, "Referer": f"{base}/preferences/"},
    )
    return ms, response.status_code, response.headers.get("Location"), len(response.content)


def _summary(name, samples, baseline=None):
    median = statistics.median(samples)
    p90 = statistics.quantiles(samples, n=10)[-1]
    ratio = f"  {median / baseline:5.2f}x baseline" if baseline else ""
    print(f"{name:<34} n={len(samples):<4} median {median:7.2f} ms  p90 {p90:7.2f} ms{ratio}")
    return median


def _signed_in_page_times(base, phone, rounds):
    import requests

    from subscriptions.preferences.links import preferences_link_path

    session = requests.Session()
    session.get(base + preferences_link_path(phone), timeout=30)
    times = []
    for _ in range(rounds):
        ms, response = _timed(session, "GET", f"{base}/preferences/")
        assert response.status_code == 200, response.status_code
        times.append(ms)
    return times, response.text.count('role="switch"')


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=300)
    parser.add_argument("--known", type=int, default=2000)
    parser.add_argument("--programs", type=int, default=60)
    args = parser.parse_args()
    if "postgres" not in os.environ.get("DATABASE_URL", ""):
        sys.exit("Set DATABASE_URL to a PostgreSQL database of your own (see the docstring).")
    subprocess.run(
        [
            "createdb",
            "-h",
            "127.0.0.1",
            "-U",
            "postgres",
            *(["-T", os.environ["BENCH_TEMPLATE_DB"]] if "BENCH_TEMPLATE_DB" in os.environ else []),
            os.environ["DATABASE_URL"].rsplit("/", 1)[1],
        ],
        capture_output=True,
    )
    _setup_data(args.known, args.programs)

    port = _free_port()
    server = subprocess.Popen(
        [
            str(Path(sys.executable).with_name("gunicorn")),
            "portal.wsgi",
            "-b",
            f"127.0.0.1:{port}",
            "-w",
            "2",
            "--forwarded-allow-ips",
            "127.0.0.1",
        ],
        cwd=ROOT,
        env={**os.environ, **ENV},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        import requests

        for _ in range(100):
            try:
                requests.get(f"{base}/healthz", timeout=5).raise_for_status()
                break
            except requests.RequestException:
                time.sleep(0.2)
        else:
            sys.exit("gunicorn did not answer: " + server.stderr.read1().decode())
        baseline = [
            _timed(requests.Session(), "GET", f"{base}/preferences/")[0] for _ in range(args.rounds)
        ]
        known, unknown, answers = [], [], set()
        # Every request uses a new number (the per-number limit is 3 in 15 minutes).
        run = int(time.time()) % 10000
        for n in range(args.rounds):
            for phone, bucket in (
                (f"+1555600{n % args.known:04d}", known),
                (f"+1556{run:04d}{n:03d}", unknown),
            ):
                ms, status, location, size = _ask_code(base, phone, len(known) * 2 + len(unknown))
                bucket.append(ms)
                answers.add((status, location, size))
        print(f"answers seen (status, redirect, body bytes): {sorted(answers, key=str)}")
        base_ms = _summary("GET /preferences/ (baseline)", baseline)
        known_ms = _summary("POST phone, known number", known, base_ms)
        unknown_ms = _summary("POST phone, unknown number", unknown, base_ms)
        print(f"known / unknown median ratio: {known_ms / unknown_ms:.3f}")

        few, few_switches = _signed_in_page_times(base, "+15556000001", args.rounds)
        many, many_switches = _signed_in_page_times(base, "+15557000000", args.rounds)
        few_ms = _summary(f"signed-in page, {few_switches} programs", few)
        many_ms = _summary(f"signed-in page, {many_switches} programs", many, few_ms)
    finally:
        server.terminate()
        try:  # gunicorn.conf.py gives requests graceful_timeout (20 s) to finish
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
    if len(answers) != 1:
        sys.exit("FAIL: known and unknown numbers got different answers")
    return few_ms, many_ms


if __name__ == "__main__":
    main()
