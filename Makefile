# The two commands of the README, and a few helpers.
.PHONY: run test lint env

env:
	@scripts/bootstrap.sh >/dev/null

run: env
	scripts/run-portal.sh

# The whole suite. SQLite by default; DATABASE_URL=postgres://... runs it on PostgreSQL.
test: env
	.venv/bin/pytest -n auto $(PYTEST_ARGS)

lint: env
	.venv/bin/ruff check .
	.venv/bin/ruff format --check .
	DEBUG=1 .venv/bin/python manage.py makemigrations --check --dry-run
