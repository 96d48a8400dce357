#!/usr/bin/env bash
# Run the portal for a first look: SQLite, console provider, demo data, workers included.
# One worker per queue (README "Workers and queues"): texts to people never wait behind
# provider syncs, and neither waits behind imports.
set -euo pipefail
cd "$(dirname "$0")/.."
export DEBUG="${DEBUG:-1}"
PORT="${PORT:-8000}"  # `PORT=8080 make run` moves the server
export PORTAL_BASE_URL="${PORTAL_BASE_URL:-http://127.0.0.1:$PORT}"
PY=.venv/bin/python
"$PY" manage.py migrate --noinput
"$PY" manage.py seed_demo
pids=()
for queue in people default bulk; do
    "$PY" manage.py db_worker --queue-name "$queue" &
    pids+=($!)
done
"$PY" manage.py sweep_outbox --every 30 &
pids+=($!)
trap 'kill "${pids[@]}" 2>/dev/null || true' EXIT INT TERM
echo
echo "Portal:       http://127.0.0.1:$PORT/preferences/"
echo "Admin:        http://127.0.0.1:$PORT/admin/   (login admin / admin)"
echo "API docs:     http://127.0.0.1:$PORT/api/docs/"
echo "Workers:      db_worker people, default (syncs), bulk; sweep_outbox (pids ${pids[*]})"
echo
"$PY" manage.py runserver "127.0.0.1:$PORT"
