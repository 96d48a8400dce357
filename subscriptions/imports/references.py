"""Set-wise foreign-key checks for a set-based import chunk (docs/adr/0007).

PostgreSQL checks a foreign key row by row: each inserted row fires one trigger per key,
which probes the parent's index and locks the parent row (FOR KEY SHARE) so that nobody
deletes it before the child commits. For a chunk of 50,000 rows that is about 13 probes per
row, half the time of its write statements. Here the chunk's write statements run with
`session_replication_role = replica` (this session only, this transaction only: it skips
the foreign-key triggers and every trigger not marked ENABLE ALWAYS), and then every key of
every row the chunk wrote is checked in one statement per parent table: the parent rows
are locked FOR KEY SHARE, as the triggers would, and their number is compared with the
number of distinct keys. A key without its parent raises IntegrityError, which rolls the
whole chunk back.

The keys are read from the models (every many-to-one field of the tables the chunk
writes), so a foreign key added later is checked without anyone remembering to.

Skipping the triggers needs the right to set session_replication_role (a superuser, or
PostgreSQL 15's GRANT SET ON PARAMETER). Without it the import checks row by row
(`SET CONSTRAINTS ALL IMMEDIATE`), which is correct, only slower. The history's append-only
triggers are ENABLE ALWAYS (migration 0024), so they fire in replica mode too.
"""

from collections import defaultdict

from django.db import IntegrityError, connection
from django.db.models import ForeignKey, Model

from subscriptions.models import ProviderSync, Subscription, SubscriptionEvent

# The rows one chunk wrote, per table: (model, SQL selecting them). %(first)s..%(last)s is
# the chunk's history id range; other writers' rows inside the range are checked too
# (harmless: their keys were checked already, and are checked again).
WRITTEN = (
    (
        SubscriptionEvent,
        "SELECT * FROM subscriptions_subscriptionevent WHERE id BETWEEN %(first)s AND %(last)s",
    ),
    (
        ProviderSync,
        "SELECT * FROM subscriptions_providersync WHERE event_id BETWEEN %(first)s AND %(last)s",
    ),
    (
        Subscription,
        "SELECT s.* FROM subscriptions_subscription s JOIN import_decided d"
        " ON d.contact_id = s.contact_id AND d.keyword_id = s.keyword_id",
    ),
)


def may_skip_row_checks() -> bool:
    """Whether this database role may switch the per-row triggers off for its session."""
    with connection.cursor() as cur:
        if connection.pg_version >= 150000:
            cur.execute("SELECT has_parameter_privilege('session_replication_role', 'SET')")
        else:
            cur.execute("SELECT current_setting('is_superuser') = 'on'")
        return bool(cur.fetchone()[0])


def skip_row_checks(cur) -> None:
    cur.execute("SET LOCAL session_replication_role = replica")


def restore_row_checks(cur) -> None:
    cur.execute("SET LOCAL session_replication_role = origin")


def _keys_by_parent() -> dict[tuple[str, str], list[str]]:
    """(parent table, parent column) -> the SELECTs of the chunk's keys that point at it."""
    parents = defaultdict(list)
    for model, rows in WRITTEN:
        for field in model._meta.concrete_fields:
            if isinstance(field, ForeignKey):
                parent: type[Model] = field.related_model
                target = (parent._meta.db_table, field.target_field.column)
                parents[target].append(
                    f"SELECT {field.column} AS id FROM ({rows}) w WHERE {field.column} IS NOT NULL"
                )
    return parents


def check_statements() -> list[tuple[str, str]]:
    """(parent table, statement answering the number of keys without a parent)."""
    statements = []
    for (table, column), selects in sorted(_keys_by_parent().items()):
        keys = "SELECT DISTINCT id FROM (" + " UNION ALL ".join(selects) + ") u"
        statements.append(
            (
                table,
                f"WITH k AS MATERIALIZED ({keys}),"
                f" found AS (SELECT 1 FROM {table} p WHERE p.{column} IN (SELECT id FROM k)"
                f" FOR KEY SHARE OF p)"
                f" SELECT (SELECT count(*) FROM k) - (SELECT count(*) FROM found)",
            )
        )
    return statements


def check_written(cur, first: int, last: int) -> None:
    """Raise IntegrityError when a row the chunk wrote points at a missing parent row;
    otherwise every parent row is locked until the chunk commits."""
    for table, statement in check_statements():
        cur.execute(statement, {"first": first, "last": last})
        missing = cur.fetchone()[0]
        if missing:
            raise IntegrityError(
                f"import chunk: {missing} key(s) to {table} without a row there; "
                "the chunk was rolled back"
            )
