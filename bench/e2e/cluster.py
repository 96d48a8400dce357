"""A private PostgreSQL cluster for the fault run: its own data directory and port, so
restarting it (a fault the run injects) never touches a server anybody else uses."""

import glob
import os
import shutil
import subprocess
import tempfile
import time

import psycopg

START_TIMEOUT_S = 60


def _binaries():
    found = sorted(
        glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"), key=lambda p: int(p.split("/")[4])
    )
    if not found:
        raise RuntimeError("no PostgreSQL server binaries under /usr/lib/postgresql/*/bin")
    return os.path.dirname(found[-1])


class PrivateCluster:
    """initdb + pg_ctl as the `postgres` OS user when we are root (the server refuses to run
    as root), trust authentication on 127.0.0.1 only."""

    def __init__(self, port, database):
        self.port, self.database = port, database
        self.bin = _binaries()
        self.root = tempfile.mkdtemp(prefix="portal-e2e-pg-")
        self.data = os.path.join(self.root, "data")
        self.log = os.path.join(self.root, "server.log")
        self.restarts = 0

    @property
    def url(self):
        return f"postgres://postgres@127.0.0.1:{self.port}/{self.database}"

    def _run(self, program, *args):
        command = [os.path.join(self.bin, program), *args]
        if os.geteuid() == 0:
            command = ["runuser", "-u", "postgres", "--", *command]
        subprocess.run(command, check=True, capture_output=True, timeout=START_TIMEOUT_S)

    def create(self):
        if os.geteuid() == 0:
            shutil.chown(self.root, "postgres", "postgres")
        self._run(
            "initdb", "-D", self.data, "-U", "postgres", "-A", "trust", "--no-sync", "-E", "UTF8"
        )
        self.start()
        with psycopg.connect(self._url("postgres"), autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{self.database}"')

    def _url(self, database):
        return f"postgres://postgres@127.0.0.1:{self.port}/{database}"

    def start(self):
        # fsync off: a crash of this throwaway cluster loses nothing we keep; the restart
        # fault is a clean shutdown, which still writes everything out.
        options = (
            f"-p {self.port} -c listen_addresses=127.0.0.1 -k {self.root} "
            "-c max_connections=200 -c fsync=off -c synchronous_commit=off"
        )
        self._run(
            "pg_ctl",
            "-D",
            self.data,
            "-l",
            self.log,
            "-o",
            options,
            "-w",
            "-t",
            str(START_TIMEOUT_S),
            "start",
        )

    def stop(self, mode="fast"):
        self._run("pg_ctl", "-D", self.data, "-m", mode, "-w", "stop")

    def restart(self, down_seconds):
        """Stop (fast: open connections are cut), stay down a while, start again."""
        self.stop()
        time.sleep(down_seconds)
        self.start()
        self.restarts += 1

    def destroy(self):
        try:
            if os.path.exists(os.path.join(self.data, "postmaster.pid")):
                self.stop(mode="immediate")
        finally:
            shutil.rmtree(self.root, ignore_errors=True)
