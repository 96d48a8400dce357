"""Import 100,000 and 1,000,000-row CSVs on PostgreSQL and compare with COPY of the same file.

    .venv/bin/python bench/import_bench.py [ROWS ...] [--dry-run]
                                        (default 100,000 then 1,000,000; 2000 = CI smoke)

Prints rows per second, the import process's peak memory (max RSS) and the ratio of the
import's time to a PostgreSQL COPY of the same file into a bare table, measured in the same
run on the same database (on PostgreSQL the set-based path, imports/setbased.py). The COPY
is run three times and the median taken: on these machines one COPY of the same file
took 0.67 s to 1.40 s, which moved the ratio more than any change to the import. Also
prints the CPU the import used: its own process's and the whole machine's (the database
server's included, from /proc/stat), which vary less between runs than the wall time.
Uses the database $BENCH_DB (default portal_bench_admin; dropped and recreated per size).
"""

import os
import statistics
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


COPY_RUNS = 3


def copy_baseline(path):
    """(median seconds of COPY_RUNS COPYs of the file, every run's seconds, rows copied)."""
    runs = [_copy_once(path) for _ in range(COPY_RUNS)]
    return statistics.median(s for s, _ in runs), [s for s, _ in runs], runs[0][1]


def _copy_once(path):
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


def machine_busy_seconds():
    """CPU seconds every core of this machine has spent busy since boot (Linux), or None."""
    try:
        with open("/proc/stat") as stat:
            fields = [int(n) for n in stat.readline().split()[1:]]
    except OSError:
        return None
    user, nice, system, _idle, _iowait, irq, softirq = fields[:7]  # steal is not ours
    return (user + nice + system + irq + softirq) / os.sysconf("SC_CLK_TCK")


def import_env():
    """The import process's environment, its bytecode compiled once beforehand."""
    env = {**bench_env(DB), "TASKS_BACKEND": "django_tasks_db.DatabaseBackend"}
    # Compiled bytecode, as a deployed worker has: where PYTHONDONTWRITEBYTECODE is set (it
    # is on these machines) every start compiled Django and the portal again, about 1 s of
    # the import's time. The warm-up writes the bytecode outside the timed runs.
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    subprocess.run(
        [PYTHON, str(ROOT / "manage.py"), "import_subscriptions", "--help"],
        env=env,
        cwd=ROOT,
        check=True,
        stdout=subprocess.DEVNULL,
    )
    return env


def run_import(path, env, dry_run=False):
    """The import in its own process: (seconds, peak RSS in MB, its CPU seconds, the
    machine's busy CPU seconds meanwhile or None)."""
    busy_before = machine_busy_seconds()
    started = time.perf_counter()
    process = subprocess.Popen(
        [PYTHON, str(ROOT / "manage.py"), "import_subscriptions", path]
        + (["--dry-run"] if dry_run else []),
        env=env,
        cwd=ROOT,
        stdout=sys.stderr,
    )
    _, status, usage = os.wait4(process.pid, 0)
    seconds = time.perf_counter() - started
    busy_after = machine_busy_seconds()
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"import_subscriptions failed ({status})")
    busy = busy_after - busy_before if busy_before is not None else None
    return seconds, usage.ru_maxrss / 1024, usage.ru_utime + usage.ru_stime, busy


def bench(rows, dry_run):
    fresh_database(DB)
    manage(DB, "shell", "-c", SETUP)
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "bench.csv")
        write_csv(path, rows)
        size_mb = os.path.getsize(path) / 1e6
        copy_seconds, copy_runs, copied = copy_baseline(path)
        env = import_env()
        import_seconds, peak_mb, own_cpu, machine_cpu = run_import(path, env)
        dry = run_import(path, env, dry_run=True) if dry_run else None
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
        f"({copied / copy_seconds:,.0f} rows/s; median of "
        f"{', '.join(f'{s:.2f}' for s in copy_runs)} s)"
    )
    print(
        f"  import_subscriptions: {rows:,} rows in {import_seconds:.1f} s "
        f"({rows / import_seconds:,.0f} rows/s), {events:,} history rows, "
        f"{subs:,} subscriptions, {syncs:,} outbox rows, {queued:,} delivery tasks queued"
    )
    print(f"  peak memory of the import process (max RSS): {peak_mb:.0f} MB")
    cpu = f"  CPU of the import: its process {own_cpu:.1f} s"
    if machine_cpu is not None:
        cpu += f", the machine (database included) {machine_cpu:.1f} s of {os.cpu_count()} cores"
    print(cpu)
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
