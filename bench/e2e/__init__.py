"""End-to-end fault run (issue 6).

The real stack on loopback: gunicorn serving portal.wsgi (gunicorn.conf.py), two
`manage.py db_worker`, `manage.py sweep_outbox --every 2`, a private PostgreSQL cluster
(initdb into a temp dir, its own port; never the shared server), fake SFMC, WhatCounts and
SkyCore servers (tests/fakes). Under steady client load it takes each provider down
(overlapping outages, 500s or hangs past the read timeout), SIGKILLs a worker, restarts
PostgreSQL, delivers every SkyCore postback twice and some out of order, and fires 100
concurrent toggles at one subscription; then it lets delivery drain (bounded) and checks
the invariants (bench/e2e/checks.py). It prints the counts and exits non-zero when an
invariant breaks.

    .venv/bin/python -m bench.e2e [--outage-seconds 60] [--log-dir DIR]

tests/e2e/test_fault_run.py runs it in CI (the PostgreSQL pass).
"""
