"""Every bench in bench/ still runs: each is started as its own process at a tiny size, on
databases of its own on the PostgreSQL server of DATABASE_URL, and must exit 0 (benches
that check their own results print "RESULT: ... ok").
It shows a bench did not break, not how fast anything is: no timing is asserted. The
end-to-end fault run (python -m bench.e2e) is tests/e2e's."""

import os
import subprocess
import sys
from pathlib import Path

import psycopg
import pytest

ROOT = Path(__file__).resolve().parents[2]
BENCH_SECONDS = 420  # a bench that hangs fails instead of holding CI (not a timing check)

pytestmark = pytest.mark.postgres


def _server():
    return os.environ.get("DATABASE_URL", "").rsplit("/", 1)[0]


def _name(bench):
    """A database named after DATABASE_URL's (so runs sharing a server keep apart)."""
    base = os.environ.get("DATABASE_URL", "").rsplit("/", 1)[-1] or "portal"
    return f"{base}_smoke_{bench}_{os.getpid()}"


BENCHES = {
    "bench_api": lambda db, server: ["--tiny", "--database", db],
    "bench_inbound": lambda db, server: [
        *("--requests", "10", "--rounds", "1", "--concurrency", "2", "--workers", "1"),
        *("--database", db, "--pg", server),
    ],
    "bench_delivery": lambda db, server: [
        *("--opt-outs", "20", "--singles", "20", "--baseline", "10", "--workers", "1"),
        *("--max-seconds", "60"),
        *("--database-url", f"{server}/{db}"),
    ],
    "admin_bench": lambda db, server: ["0.0002", "--quick"],
    "import_bench": lambda db, server: ["300"],
    "preferences_page": lambda db, server: ["--rounds", "5", "--known", "20", "--programs", "5"],
    "bench_reconcile": lambda db, server: [
        *("--numbers", "1200", "--drift", "5", "--delay", "0.01"),
        *("--database-url", f"{server}/{db}"),
    ],
    "bench_queues": lambda db, server: [
        *("--syncs", "300", "--samples", "3", "--every", "0.1", "--delay", "0.005"),
        *("--sync-workers", "1", "--max-drain-seconds", "120"),
        *("--database-url", f"{server}/{db}"),
    ],
    "bench_webhooks": lambda db, server: ["--tiny", "--database-url", f"{server}/{db}"],
    "revocation_latency": lambda db, server: [
        *("--rows", "200", "--revocations", "3", "--interval", "0.1", "--people-workers", "1"),
        *("--max-seconds", "240", "--database-url", f"{server}/{db}"),
    ],
}


def _drop(server, db):
    with psycopg.connect(f"{server}/postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)')


@pytest.fixture(scope="session")
def template():
    """One migrated database the benches copy theirs from (CREATE DATABASE ... TEMPLATE):
    migrating once instead of once per bench keeps the whole test to a couple of minutes."""
    server, db = _server(), _name("template")
    _drop(server, db)
    with psycopg.connect(f"{server}/postgres", autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{db}"')
    subprocess.run(
        [sys.executable, "manage.py", "migrate", "--verbosity", "0"],
        cwd=ROOT,
        env={**os.environ, "DATABASE_URL": f"{server}/{db}"},
        check=True,
        timeout=BENCH_SECONDS,
    )
    yield db
    _drop(server, db)


@pytest.mark.parametrize("bench", sorted(BENCHES))
def test_the_bench_runs_at_a_tiny_size(bench, template):
    server, db = _server(), _name(bench)
    env = {
        **os.environ,
        "BENCH_TEMPLATE_DB": template,
        "BENCH_PG": server,
        "BENCH_DB": db,
        "DATABASE_URL": f"{server}/{db}",
        "BENCH_DATABASE_URL": f"{server}/{db}",
    }
    env.pop("DJANGO_SETTINGS_MODULE", None)  # each bench sets its own
    try:
        run = subprocess.run(
            [sys.executable, str(ROOT / "bench" / f"{bench}.py"), *BENCHES[bench](db, server)],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=BENCH_SECONDS,
        )
    finally:
        _drop(server, db)
    assert run.returncode == 0, f"{bench} failed:\n{run.stdout[-3000:]}\n{run.stderr[-3000:]}"
