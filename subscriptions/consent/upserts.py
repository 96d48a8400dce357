"""The single-statement writes of the hot consent paths: `INSERT ... ON CONFLICT ...
RETURNING`, which PostgreSQL and SQLite (3.35+) both speak. Each replaces a read followed
by a write (and the savepoint a get_or_create needs) with one round trip.

- `locked_contact`: the contact row, created when new, and locked until the transaction
  ends, in one statement. A conflicting insert turns into an UPDATE of the existing row
  that changes nothing (`locale = locale`); the UPDATE takes the row lock (PostgreSQL:
  FOR NO KEY UPDATE, which conflicts with itself and with the FOR UPDATE the other writers
  of a contact take, so every writer of the number still queues here) and returns the row
  as it is after any writer ahead of it committed. On PostgreSQL it also says whether the
  row is new: a row this statement inserted has no xmax, while the updated version of an
  existing one carries the lock its updater holds (xmax = that transaction). A new contact
  has no subscription and no STOP, so the services need not look for them.
- `claim_receipt`: the receipt of an inbound message id, or its repeat counted, in one
  statement: `repeats` comes back 0 the first time.
- `insert_stop`: a code's STOP, unless one is active already (the partial unique index
  `one_active_stop_per_code`).
"""

from datetime import datetime

from django.db import connection
from django.db.transaction import TransactionManagementError
from django.utils import timezone

from subscriptions.models import Contact, InboundReceipt, ShortCode, ShortCodeStop


def _names(model, *columns):
    quote = connection.ops.quote_name
    return quote(model._meta.db_table), [quote(column) for column in columns]


def _stamp(value: datetime):
    return connection.ops.adapt_datetimefield_value(value)


def locked_contact(phone: str) -> tuple[Contact, bool | None]:
    """(contact, created) for an E.164 `phone`: the row, created when new, locked until the
    transaction ends. `created` is None where the database cannot tell (SQLite)."""
    if not connection.in_atomic_block:
        raise TransactionManagementError("locked_contact() is only useful in a transaction.")
    table, (phone_col, locale, created_at, pk) = _names(
        Contact, "phone", "locale", "created_at", "id"
    )
    created = "(xmax = 0)" if connection.vendor == "postgresql" else "NULL"
    sql = (
        f"INSERT INTO {table} ({phone_col}, {locale}, {created_at}) VALUES (%s, '', %s) "
        f"ON CONFLICT ({phone_col}) DO UPDATE SET {locale} = {table}.{locale} "
        f"RETURNING {pk}, {phone_col}, {locale}, {created_at}, {created} AS created"
    )
    # raw(): the model's own converters read the row back (SQLite returns text dates).
    contact = next(iter(Contact.objects.raw(sql, [phone, _stamp(timezone.now())])))
    created = contact.__dict__.pop("created")
    return contact, None if created is None else bool(created)


def claim_receipt(source: str, external_id: str) -> bool:
    """True the first time (source, external_id) is seen; a repeat only bumps a counter."""
    now = timezone.now()
    table, (source_col, external, received, repeats, last_repeat) = _names(
        InboundReceipt, "source", "external_id", "received_at", "repeats", "last_repeat_at"
    )
    sql = (
        f"INSERT INTO {table} ({source_col}, {external}, {received}, {repeats}) "
        f"VALUES (%s, %s, %s, 0) ON CONFLICT ({source_col}, {external}) DO UPDATE SET "
        f"{repeats} = {table}.{repeats} + 1, {last_repeat} = %s RETURNING {repeats}"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [source, external_id, _stamp(now), _stamp(now)])
        (seen_before,) = cursor.fetchone()
    return seen_before == 0


def insert_stop(contact: Contact, short_code: ShortCode, at: datetime, source: str):
    """A new active STOP of the contact on the code, or None when one is active already."""
    table, (contact_col, code_col, created, latest, source_col, cleared, pk) = _names(
        ShortCodeStop,
        "contact_id",
        "short_code_id",
        "created_at",
        "latest_at",
        "source",
        "cleared_at",
        "id",
    )
    sql = (
        f"INSERT INTO {table} ({contact_col}, {code_col}, {created}, {latest}, {source_col}) "
        f"VALUES (%s, %s, %s, %s, %s) "
        f"ON CONFLICT ({contact_col}, {code_col}) WHERE {cleared} IS NULL DO NOTHING "
        f"RETURNING {pk}"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [contact.pk, short_code.pk, _stamp(at), _stamp(at), source])
        row = cursor.fetchone()
    if row is None:
        return None
    stop = ShortCodeStop(
        id=row[0],
        contact=contact,
        short_code=short_code,
        created_at=at,
        latest_at=at,
        source=source,
        cleared_at=None,
    )
    stop._state.adding = False
    stop._state.db = connection.alias
    return stop
