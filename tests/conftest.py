"""Shared test setup: settings, real-network blocking, CI strictness, common fixtures."""

import ipaddress
import os
import socket
from datetime import timedelta

import pytest
from django.core.cache.backends import db as db_cache
from django.utils import timezone

timezone_now = timezone.now  # the real clock, before any test replaces it

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings_test")
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


def _is_local(address):
    if isinstance(address, str):  # unix socket path
        return True
    host = address[0]
    if host in ("localhost", ""):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


_real_connect = socket.socket.connect
_real_connect_ex = socket.socket.connect_ex


def _guarded(real):
    def connect(self, address):
        if self.family in (socket.AF_INET, socket.AF_INET6) and not _is_local(address):
            raise OSError(f"tests may not reach the network: {address!r}")
        return real(self, address)

    return connect


def pytest_configure(config):
    # Fake providers run on loopback; anything else is a bug in the test.
    socket.socket.connect = _guarded(_real_connect)
    socket.socket.connect_ex = _guarded(_real_connect_ex)


def requirement_missing(reason):
    """Skip locally; in CI a missing browser or database is a failure, never a skip."""
    if IN_CI:
        pytest.fail(f"required in CI: {reason}", pytrace=False)
    pytest.skip(reason)


def pytest_runtest_setup(item):
    if item.get_closest_marker("postgres"):
        from django.db import connection

        if connection.vendor != "postgresql":
            requirement_missing("needs PostgreSQL (set DATABASE_URL=postgres://...)")


@pytest.fixture
def on_commit(django_capture_on_commit_callbacks):
    """Run transaction.on_commit callbacks (task enqueues) as a real commit would."""
    return lambda: django_capture_on_commit_callbacks(execute=True)


CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
]


@pytest.fixture(scope="session")
def browser():
    """Debian's Chromium driven by Playwright (never a downloaded browser build)."""
    if not os.path.exists(CHROMIUM):
        requirement_missing("Chromium is not installed (apt-get install chromium)")
    os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
        )
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    yield page
    context.close()


@pytest.fixture
def artifacts_dir(request):
    """Where a test saves screenshots: test-artifacts/<test name>/."""
    from pathlib import Path

    path = Path(__file__).resolve().parent.parent / "test-artifacts" / request.node.name
    path.mkdir(parents=True, exist_ok=True)
    return path


class Clock:
    """A clock the test moves: `timezone.now()` everywhere in the portal (leases, the database
    cache's expiry, row timestamps) reads it. Starts at the real time; never sleeps."""

    def __init__(self):
        self.now = timezone_now()

    def __call__(self):
        return self.now

    def advance(self, seconds=0.0, *, past=None):
        """Move forward by `seconds`, or to just after the datetime `past`."""
        if past is not None:
            self.now = max(self.now, past) + timedelta(milliseconds=1)
        self.now += timedelta(seconds=seconds)
        return self.now


@pytest.fixture
def clock(monkeypatch):
    clock = Clock()
    monkeypatch.setattr(timezone, "now", clock)
    monkeypatch.setattr(db_cache, "tz_now", clock)  # bound at import by the database cache
    return clock


@pytest.fixture(autouse=True)
def _fresh_process_caches():
    """Per-process caches (tokens, catalog, local throttle windows) start empty in each test:
    a rolled-back row sends no signal to drop them."""
    from subscriptions.common import limits, memo

    memo.clear_all()
    limits.forget_local()
    yield
    memo.clear_all()
    limits.forget_local()
