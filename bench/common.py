"""Shared bench helpers: a fresh PostgreSQL database of our own, migrated, and timers."""

import os
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path

import psycopg

ROOT = Path(__file__).resolve().parent.parent
# The interpreter running the bench (a worktree may share another checkout's .venv).
PYTHON = sys.executable
GUNICORN = str(Path(sys.executable).with_name("gunicorn"))
SERVER = os.environ.get("BENCH_PG", "postgres://postgres@127.0.0.1:5432")


def create_database_sql(name):
    """CREATE DATABASE `name`, copied from BENCH_TEMPLATE_DB when that is set (an already
    migrated database: the smoke test migrates once, not once per bench)."""
    template = os.environ.get("BENCH_TEMPLATE_DB")
    return f'CREATE DATABASE "{name}"' + (f' TEMPLATE "{template}"' if template else "")


def database_url(name):
    return f"{SERVER}/{name}"


def fresh_database(name):
    """Drop and recreate `name` (history rows cannot be deleted, so start from nothing),
    then run the migrations into it."""
    with psycopg.connect(f"{SERVER}/postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(create_database_sql(name))
    manage(name, "migrate", "--verbosity", "0")


def bench_env(name):
    return {
        **os.environ,
        "DATABASE_URL": database_url(name),
        "DEBUG": "0",
        "SECRET_KEY": "bench-only-secret-key-0123456789abcdefghijklmnopqrstuvwxyz",
        "DJANGO_SETTINGS_MODULE": "portal.settings",
        "SECURE_COOKIES": "0",
        # Production settings but plain HTTP: loopback has no TLS.
        "SECURE_SSL_REDIRECT": "0",
        "SECURE_HSTS_SECONDS": "0",
        "TASKS_BACKEND": "django.tasks.backends.immediate.ImmediateBackend",
    }


def manage(name, *args, **kwargs):
    return subprocess.run(
        [PYTHON, str(ROOT / "manage.py"), *args],
        env=bench_env(name),
        cwd=ROOT,
        check=True,
        **kwargs,
    )


@contextmanager
def timed(label, results):
    started = time.perf_counter()
    yield
    results[label] = time.perf_counter() - started
    print(f"  {label}: {results[label]:.2f} s", file=sys.stderr, flush=True)
