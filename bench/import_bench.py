"""Import 100,000 and 1,000,000-row CSVs on PostgreSQL and compare with COPY of the same file.

    .venv/bin/python bench/import_bench.py [ROWS ...] [--dry-run]
                                        (default 100,000 then 1,000,000; 2000 = CI smoke)

Prints rows per second, the import process's peak memory (max RSS) and the ratio of the
import's time to a PostgreSQL COPY of the same file into a bare table, measured in the same
run on the same database (on PostgreSQL the set-based path, imports/setbased.py). Uses the
database $BENCH_DB (default portal_bench_admin; dropped and recreated per size).
"""

import os
import subprocess
import sys
import tempfile
import time

import psycopg
from common import PYTHON, ROOT, bench_env, database_url, fresh_database, manage

DB = os.environ.get("BENCH_DB", "portal_bench_admin")
PROGRAMS = ["DEALS", "NEWS", "ALERTS", "VIP", "TIPS"]


def write_csv(path, rows):
    """Realistic mix: mostly Active, one in ten Unsubscribe, 1% bad rows, five programs on
    two codes, numbers repeated across programs (so existing subscriptions are hit too)."""
    with open(path, "w") as out:
        out.write("phone,short_code,keyword,status,occurred_at,consent_text\n")
        for n in range(rows):
            phone = f"+1202{(n * 7919) % (rows // 2 + 1):07d}"
            code = "12345" if n % 3 else "67890"
            keyword = PROGRAMS[n % len(PROGRAMS)]
            status = "Unsubscribe" if n % 10 == 0 else "Active"
            if n % 100 == 99:
                phone = "not-a-number"
            out.write(
                f"{phone},{code},{keyword},{status},2025-01-01T00:00:00Z,"
                f"Text {keyword} to {code} for offers\n"
            )


SETUP = f"""
from subscriptions.models import Keyword, ProviderAccount, ShortCode
account = ProviderAccount.objects.create(name="bench")
for code in ("12345", "67890"):
    sc = ShortCode.objects.create(code=code, name=code, brand="Bench", provider=account)
    for word in {PROGRAMS!r}:
        Keyword.objects.create(short_code=sc, word=word)
"""


def copy_baseline(path):
    with psycopg.connect(database_url(DB), autocommit=True) as conn:
        conn.execute("DROP TABLE IF EXISTS bench_copy")
        conn.execute(
            "CREATE TABLE bench_copy (phone text, short_code text, keyword text, "
            "status text, occurred_at text, consent_text text)"
        )
        started = time.perf_counter()
        with (
            open(path, "rb") as source,
            conn.cursor() as cur,
            cur.copy("COPY bench_copy FROM STDIN WITH (FORMAT csv, HEADER true)") as copy,
        ):
            while data := source.read(1 << 20):
                copy.write(data)
        elapsed = time.perf_counter() - started
        count = conn.execute("SELECT count(*) FROM bench_copy").fetchone()[0]
        conn.execute("DROP TABLE bench_copy")
    return elapsed, count


def run_import(path, dry_run=False):
    """The import in its own process: (seconds, that process's peak RSS in MB)."""
    started = time.perf_counter()
    process = subprocess.Popen(
        [PYTHON, str(ROOT / "manage.py"), "import_subscriptions", path]
        + (["--dry-run"] if dry_run else []),
        env={**bench_env(DB), "TASKS_BACKEND": "django_tasks_db.DatabaseBackend"},
        cwd=ROOT,
        stdout=sys.stderr,
    )
    _, status, usage = os.wait4(process.pid, 0)
    seconds = time.perf_counter() - started
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"import_subscriptions failed ({status})")
    return seconds, usage.ru_maxrss / 1024


def bench(rows, dry_run):
    fresh_database(DB)
    manage(DB, "shell", "-c", SETUP)
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "bench.csv")
        write_csv(path, rows)
        size_mb = os.path.getsize(path) / 1e6
        copy_seconds, copied = copy_baseline(path)
        import_seconds, peak_mb = run_import(path)
        dry = run_import(path, dry_run=True) if dry_run else None
    with psycopg.connect(database_url(DB)) as conn:
        events = conn.execute("SELECT count(*) FROM subscriptions_subscriptionevent").fetchone()[0]
        subs = conn.execute("SELECT count(*) FROM subscriptions_subscription").fetchone()[0]
        syncs = conn.execute("SELECT count(*) FROM subscriptions_providersync").fetchone()[0]
        queued = conn.execute("SELECT count(*) FROM django_tasks_database_dbtaskresult").fetchone()[
            0
        ]
    print(f"file: {rows:,} rows, {size_mb:.1f} MB")
    print(
        f"  COPY into a bare table: {copied:,} rows in {copy_seconds:.2f} s "
        f"({copied / copy_seconds:,.0f} rows/s)"
    )
    print(
        f"  import_subscriptions: {rows:,} rows in {import_seconds:.1f} s "
        f"({rows / import_seconds:,.0f} rows/s), {events:,} history rows, "
        f"{subs:,} subscriptions, {syncs:,} outbox rows, {queued:,} delivery tasks queued"
    )
    print(f"  peak memory of the import process (max RSS): {peak_mb:.0f} MB")
    print(f"  ratio import time / COPY time: {import_seconds / copy_seconds:.1f}x")
    if dry:
        print(
            f"  dry run of the same file afterwards: {dry[0]:.1f} s "
            f"({dry[0] / copy_seconds:.1f}x COPY), peak RSS {dry[1]:.0f} MB"
        )


def main():
    """import_bench.py [ROWS ...] [--dry-run]; default 100,000 and 1,000,000 rows. A tiny
    size (e.g. 2000) is the CI smoke run."""
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    sizes = [int(a) for a in args] or [100_000, 1_000_000]
    for rows in sizes:
        bench(rows, dry_run="--dry-run" in sys.argv)


if __name__ == "__main__":
    main()
