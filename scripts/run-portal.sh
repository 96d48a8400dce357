#!/usr/bin/env bash
# Run the portal for a first look: SQLite, console provider, demo data, worker included.
set -euo pipefail
cd "$(dirname "$0")/.."
export DEBUG="${DEBUG:-1}"
PY=.venv/bin/python
"$PY" manage.py migrate --noinput
"$PY" manage.py seed_demo
"$PY" manage.py db_worker &
worker=$!
"$PY" manage.py db_worker --queue-name bulk &  # webhooks and other bulk work
bulk=$!
"$PY" manage.py sweep_outbox --every 30 &
sweeper=$!
trap 'kill $worker $bulk $sweeper 2>/dev/null || true' EXIT INT TERM
echo
echo "Portal:       http://127.0.0.1:8000/preferences/"
echo "Admin:        http://127.0.0.1:8000/admin/   (login admin / admin)"
echo "API docs:     http://127.0.0.1:8000/api/docs/"
echo "Worker:       db_worker (pid $worker), bulk db_worker (pid $bulk), sweep_outbox (pid $sweeper)"
echo
"$PY" manage.py runserver 127.0.0.1:8000
