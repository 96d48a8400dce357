"""One UPDATE for many rows, each with values of its own."""

from collections.abc import Iterable, Sequence

from django.db import connections, router
from django.db.models import Model

CHUNK = 1000  # rows per statement (PostgreSQL takes at most 65,535 parameters)


def update_each(rows: Iterable[Model], fields: Sequence[str]) -> int:
    """Write `fields` of each of `rows` (instances of one model, primary keys set); returns
    the rows updated. PostgreSQL gets `UPDATE ... FROM (VALUES ...)`, one row of values per
    instance. Django's `bulk_update` builds a CASE WHEN per field and row, and compiling it
    costs about a millisecond a row in the worker: most of a 250-row delivery's own time.
    Other databases get `bulk_update` (the same result, one statement too)."""
    rows = list(rows)
    if not rows:
        return 0
    model = type(rows[0])
    connection = connections[router.db_for_write(model)]
    if connection.vendor != "postgresql":
        return model._base_manager.bulk_update(rows, fields)
    opts = model._meta
    columns = [opts.pk, *(opts.get_field(name) for name in fields)]
    quote = connection.ops.quote_name
    table = quote(opts.db_table)
    casts = ", ".join(f"%s::{field.cast_db_type(connection)}" for field in columns)
    names = ", ".join(quote(field.column) for field in columns)
    assignments = ", ".join(f"{quote(f.column)} = v.{quote(f.column)}" for f in columns[1:])
    updated = 0
    with connection.cursor() as cursor:
        for start in range(0, len(rows), CHUNK):
            chunk = rows[start : start + CHUNK]
            values = ", ".join(f"({casts})" for _row in chunk)
            params = [
                field.get_db_prep_save(getattr(row, field.attname), connection)
                for row in chunk
                for field in columns
            ]
            cursor.execute(
                f"UPDATE {table} SET {assignments} FROM (VALUES {values}) AS v ({names}) "
                f"WHERE {table}.{quote(opts.pk.column)} = v.{quote(opts.pk.column)}",
                params,
            )
            updated += cursor.rowcount
    return updated
