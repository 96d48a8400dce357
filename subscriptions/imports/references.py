"""Set-wise foreign-key checks for a set-based import chunk (docs/adr/0007).

PostgreSQL checks a foreign key row by row: each inserted row fires one trigger per key,
which probes the parent's index and locks the parent row (FOR KEY SHARE) so that nobody
deletes it before the child commits. For a chunk of 50,000 rows that is about 13 probes per
row, half the time of its write statements. Here the chunk's write statements run with
`session_replication_role = replica` (this session only, this transaction only: it skips
the foreign-key triggers and every trigger not marked ENABLE ALWAYS), and then every key of
every row the chunk wrote is checked in one statement per parent table.

The keys come from the write statements themselves: each one answers the key columns of
the rows it wrote (RETURNING) into the temporary table `import_keys`, the distinct (parent
table, key) pairs, so the check reads exactly what was written without reading the written
tables again. Two parents are not probed: contacts, which the chunk inserted or locked FOR
UPDATE before any row points at them, and history events, which the same statement
inserted (the outbox rows take their ids from its RETURNING rows). No other transaction can
delete those before this one commits, and their keys are produced from the very rows the
chunk holds; tests/subscriptions/imports check after generated imports that no written row
points at a missing parent. Every other parent (subscriptions, short codes, programs,
accounts, users, stops) is locked FOR KEY SHARE, as the triggers would, and its rows are
counted against the keys. A key without its parent raises IntegrityError, which rolls the
whole chunk back.

The key columns are read from the models (every many-to-one field of the tables the chunk
inserts into), so a foreign key added later is checked without anyone remembering to.
UPDATEs that change no key column (a confirmation's last_occurred_at, a stop's cleared_at)
need no check: PostgreSQL's own trigger skips them too.

Skipping the triggers needs the right to set session_replication_role (a superuser, or
PostgreSQL 15's GRANT SET ON PARAMETER). Without it the import checks row by row
(`SET CONSTRAINTS ALL IMMEDIATE`), which is correct, only slower. The history's append-only
triggers are ENABLE ALWAYS (migration 0024), so they fire in replica mode too.
"""

from django.db import IntegrityError, connection
from django.db.models import ForeignKey, Model

from subscriptions.models import Contact, ProviderSync, Subscription, SubscriptionEvent

# The tables a chunk inserts into (their keys are checked), and the parents whose rows the
# chunk's own transaction inserted or holds FOR UPDATE before any child points at them.
WRITTEN = (Subscription, SubscriptionEvent, ProviderSync)
HELD_BY_THE_CHUNK = (Contact, SubscriptionEvent)

# Distinct per statement; a key two statements wrote is there twice (the checks read it
# DISTINCT). No index: an indexed insert of every key costs more than the checks save.
KEYS_TABLE = """CREATE TEMP TABLE IF NOT EXISTS import_keys (
    parent text NOT NULL, id bigint NOT NULL) ON COMMIT DELETE ROWS"""


def _foreign_keys(model: type[Model]) -> list[ForeignKey]:
    return [f for f in model._meta.concrete_fields if isinstance(f, ForeignKey)]


def _checked_keys(model: type[Model]) -> list[ForeignKey]:
    return [f for f in _foreign_keys(model) if f.related_model not in HELD_BY_THE_CHUNK]


def returning(model: type[Model], *columns: str) -> str:
    """`columns` and the checked key columns of `model`: the RETURNING list of a statement
    writing `model` whose keys `collect` records."""
    keys = [field.column for field in _checked_keys(model) if field.column not in columns]
    return ", ".join([*columns, *keys])


def collect(written: str, model: type[Model]) -> str:
    """A data-modifying CTE body that records the keys of the rows in CTE `written` (rows
    of `model`, RETURNING at least `returning(model)`) into import_keys."""
    selects = " UNION ALL ".join(
        f"SELECT '{field.related_model._meta.db_table}', {field.column} FROM {written}"
        for field in _checked_keys(model)
    )
    return (
        f"INSERT INTO import_keys (parent, id) SELECT DISTINCT parent, id FROM ({selects})"
        " k (parent, id) WHERE id IS NOT NULL"
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


def parents() -> dict[str, str]:
    """Every parent table of the written tables -> "locked" (checked and locked FOR KEY
    SHARE) or "held" (the chunk holds its rows itself)."""
    held = {model._meta.db_table for model in HELD_BY_THE_CHUNK}
    return {
        field.related_model._meta.db_table: "held"
        if field.related_model._meta.db_table in held
        else "locked"
        for model in WRITTEN
        for field in _foreign_keys(model)
    }


def check_statements() -> list[tuple[str, str]]:
    """(parent table, statement answering the number of keys without a parent) for every
    parent the chunk does not hold."""
    columns = {
        field.related_model._meta.db_table: field.target_field.column
        for model in WRITTEN
        for field in _checked_keys(model)
    }
    statements = []
    for table, column in sorted(columns.items()):
        keys = f"SELECT DISTINCT id FROM import_keys WHERE parent = '{table}'"
        found = f"SELECT 1 FROM {table} p WHERE p.{column} IN ({keys}) FOR KEY SHARE OF p"
        statements.append(
            (
                table,
                f"WITH found AS ({found}) SELECT (SELECT count(*) FROM ({keys}) k)"
                " - (SELECT count(*) FROM found)",
            )
        )
    return statements


def check_written(cur) -> None:
    """Raise IntegrityError when a row the chunk wrote points at a missing parent row;
    otherwise every parent row it points at is locked (or held) until commit."""
    for table, statement in check_statements():
        cur.execute(statement)
        missing = cur.fetchone()[0]
        if missing:
            raise IntegrityError(
                f"import chunk: {missing} key(s) to {table} without a row there; "
                "the chunk was rolled back"
            )
