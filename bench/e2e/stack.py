"""The portal's processes as production runs them (Procfile / deploy/systemd): gunicorn with
the repository's gunicorn.conf.py, `manage.py db_worker` per queue (two on the syncs queue,
with --threads 8, one on the people queue, one on the bulk queue), one `manage.py
sweep_outbox --every N`.
Each is supervised like a systemd unit with Restart=always: when a process exits (killed,
or gave up while the database was down) it is started again."""

import http.client
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
RESTART_DELAY_S = 1.0
# The queue names of subscriptions/common/queueing.py (not imported: this process has no
# Django set up).
QUEUE_PEOPLE, QUEUE_SYNCS, QUEUE_BULK = "people", "default", "bulk"
STARTUP_TIMEOUT_S = 60
# As the Procfile runs the syncs workers: several deliveries at once per process.
WORKER_FLAGS = {QUEUE_SYNCS: ("--threads", "8")}
WORKER_ENV = {QUEUE_SYNCS: {"CONN_MAX_AGE": "60"}}


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def portal_env(database_url, timing):
    """Production settings (DEBUG off) except HTTPS, which a loopback run cannot have, and
    delivery timings shrunk so retries, leases and re-drives play out within the run."""
    return {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "portal.settings",
        "DATABASE_URL": database_url,
        "TASKS_BACKEND": "django_tasks_db.DatabaseBackend",
        "SECRET_KEY": "e2e-only-secret-key-0123456789abcdefghijklmnopqrstuvwxyz-ABCDEFG",
        "PORTAL_ENCRYPTION_KEY": "cGxhaW4tZTJlLXRlc3Qta2V5LTMyLWJ5dGVzLWxvbmc=",
        "DEBUG": "0",
        "ALLOWED_HOSTS": "127.0.0.1,localhost",
        "SECURE_SSL_REDIRECT": "0",
        "SECURE_COOKIES": "0",
        "SECURE_HSTS_SECONDS": "0",
        "API_THROTTLE_RATE": "1000000/min",
        "PORTAL_DELIVERY_BACKOFF_SECONDS": str(timing.backoff),
        "PORTAL_DELIVERY_BACKOFF_MAX_SECONDS": str(timing.backoff_max),
        "PORTAL_DELIVERY_LEASE_SECONDS": str(timing.lease),
        "PORTAL_DELIVERY_REDRIVE_SECONDS": str(timing.redrive),
        # Enough attempts to outlast the longest provider outage at the capped backoff.
        "PORTAL_DELIVERY_MAX_ATTEMPTS": "1000",
        "LOG_LEVEL": "WARNING",
    }


class Supervised:
    def __init__(self, name, command, env, log_dir):
        self.name, self.command, self.env = name, command, env
        self.log_path = Path(log_dir) / f"{name}.log"
        self.process = None
        self.starts = 0

    def start(self):
        with open(self.log_path, "a") as log:
            self.process = subprocess.Popen(
                self.command,
                cwd=ROOT,
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self.starts += 1

    def exited(self):
        return self.process is not None and self.process.poll() is not None

    def kill(self):
        """SIGKILL, the fault: no chance to finish or release anything."""
        os.kill(self.process.pid, signal.SIGKILL)

    def stop(self):
        if self.process is None or self.process.poll() is not None:
            return
        os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=5)

    @property
    def restarts(self):
        return max(0, self.starts - 1)


class Stack:
    def __init__(self, env, log_dir, *, workers=2, web_workers=3, sweep_every=2):
        self.port = free_port()
        python = sys.executable
        manage = [python, str(ROOT / "manage.py")]
        web_env = {
            **env,
            "GUNICORN_BIND": f"127.0.0.1:{self.port}",
            "WEB_CONCURRENCY": str(web_workers),
            "GUNICORN_THREADS": "4",
        }
        gunicorn = [
            str(Path(python).parent / "gunicorn"),
            "portal.wsgi",
            "--config",
            str(ROOT / "gunicorn.conf.py"),
        ]
        self.web = Supervised("web", gunicorn, web_env, log_dir)
        # Syncs workers first: the fault run kills workers[0] mid-delivery.
        queues = [QUEUE_SYNCS] * workers + [QUEUE_PEOPLE, QUEUE_BULK]
        self.workers = [
            Supervised(
                f"worker{n}-{queue}",
                [
                    *manage,
                    "db_worker",
                    "--queue-name",
                    queue,
                    "--interval",
                    "0.2",
                    "--no-startup-delay",
                    *WORKER_FLAGS.get(queue, ()),
                ],
                {**env, **WORKER_ENV.get(queue, {})},
                log_dir,
            )
            for n, queue in enumerate(queues, start=1)
        ]
        self.sweeper = Supervised(
            "sweeper", [*manage, "sweep_outbox", "--every", str(sweep_every)], env, log_dir
        )
        self._stopping = threading.Event()
        self._watcher = threading.Thread(target=self._watch, daemon=True)

    @property
    def processes(self):
        return [self.web, *self.workers, self.sweeper]

    def start(self):
        for process in self.processes:
            process.start()
        self._wait_for_web()
        self._watcher.start()

    def _wait_for_web(self):
        deadline = time.monotonic() + STARTUP_TIMEOUT_S
        while time.monotonic() < deadline:
            try:
                conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=5)
                conn.request("GET", "/healthz")
                if conn.getresponse().status == 200:
                    return
            except OSError:
                time.sleep(0.2)
        raise RuntimeError(f"gunicorn did not answer /healthz within {STARTUP_TIMEOUT_S} s")

    def _watch(self):
        while not self._stopping.wait(RESTART_DELAY_S):
            for process in self.processes:
                if process.exited() and not self._stopping.is_set():
                    process.start()

    def stop(self):
        self._stopping.set()
        for process in self.processes:
            process.stop()

    def restarts(self):
        return {p.name: p.restarts for p in self.processes if p.restarts}
