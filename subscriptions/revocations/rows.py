"""A new revocation's rows written together: the Revocation, its scope (short codes), the
provider deliveries it caused and, when none is owed, its RevocationInStep.

On PostgreSQL that is one statement (data-modifying CTEs): an MO STOP is on the hot path
(issue "Hot paths at framework speed"), and four INSERTs of a few rows each were a quarter
of its statements. The Revocation's INSERT is the one Django's compiler writes for the
model (its field conversions and defaults), after the same validation as `save`. SQLite
has no data-modifying CTEs: there the rows are written one INSERT each.
"""

from django.db import connection
from django.db.models import Model
from django.db.models.sql import InsertQuery

from subscriptions.models import ProviderSync, Revocation, RevocationInStep, ShortCode
from subscriptions.revocations import measure


def insert_new(
    revocation: Revocation,
    codes: list[ShortCode],
    syncs: list[ProviderSync],
    step: RevocationInStep | None,
) -> None:
    """Write a new `revocation` with its scope `codes`, its links to `syncs` and `step`
    (unsaved, its revocation unset until now); the instances get their ids."""
    revocation.validate_new()
    if connection.vendor == "postgresql":
        _in_one_statement(revocation, codes, syncs, step)
    else:
        _one_by_one(revocation, codes, syncs, step)


def _one_by_one(revocation, codes, syncs, step):
    revocation.save()
    scope = Revocation.short_codes.through
    scope.objects.bulk_create(
        [scope(revocation_id=revocation.pk, shortcode_id=c.pk) for c in codes]
    )
    measure.link(revocation, syncs)
    if step is not None:
        step.revocation = revocation
        RevocationInStep.objects.bulk_create([step])


def _insert_sql(obj: Model) -> tuple[str, list]:
    """Django's own INSERT of a new `obj` (no RETURNING)."""
    meta = obj._meta
    fields = [f for f in meta.local_concrete_fields if f is not meta.auto_field and not f.generated]
    query = InsertQuery(type(obj))
    query.insert_values(fields, [obj])
    [(sql, params)] = query.get_compiler(connection=connection).as_sql()
    return sql, list(params)


def _m2m_insert(manager_field, ids_param: str, *, ignore_conflicts=False) -> str:
    """INSERT of (the new revocation, each id of an array parameter) into a many-to-many
    table of Revocation."""
    field = manager_field.field
    sql = (
        f"INSERT INTO {field.m2m_db_table()} ({field.m2m_column_name()},"
        f" {field.m2m_reverse_name()}) SELECT r.id, x FROM r, unnest({ids_param}::bigint[]) x"
    )
    return sql + (" ON CONFLICT DO NOTHING" if ignore_conflicts else "")


def _step_insert(step: RevocationInStep) -> tuple[str, list]:
    """INSERT of `step` pointing at the new revocation (r.id)."""
    meta = step._meta
    columns, values, params = [], [], []
    for field in meta.local_concrete_fields:
        if field is meta.auto_field:
            continue
        columns.append(field.column)
        if field.name == "revocation":
            values.append("r.id")
        else:
            values.append("%s")
            params.append(field.get_db_prep_save(getattr(step, field.attname), connection))
    sql = (
        f"INSERT INTO {meta.db_table} ({', '.join(columns)}) SELECT {', '.join(values)} FROM r"
        f" RETURNING {meta.pk.column}"
    )
    return sql, params


def _in_one_statement(revocation, codes, syncs, step):
    insert, params = _insert_sql(revocation)
    ctes = [f"r AS ({insert} RETURNING {revocation._meta.pk.column})"]
    if codes:
        ctes.append(f"scope AS ({_m2m_insert(Revocation.short_codes, '%s')})")
        params.append([code.pk for code in codes])
    if syncs:
        ctes.append(f"links AS ({_m2m_insert(Revocation.syncs, '%s', ignore_conflicts=True)})")
        params.append([sync.pk for sync in syncs])
    step_id = "NULL::bigint"
    if step is not None:
        step_sql, step_params = _step_insert(step)
        ctes.append(f"step AS ({step_sql})")
        params.extend(step_params)
        step_id = "(SELECT id FROM step)"
    with connection.cursor() as cur:
        cur.execute(f"WITH {', '.join(ctes)} SELECT r.id, {step_id} FROM r", params)
        revocation_id, step_pk = cur.fetchone()
    _saved(revocation, revocation_id)
    if step is not None:
        step.revocation = revocation
        _saved(step, step_pk)


def _saved(obj: Model, pk) -> None:
    obj.pk = pk
    obj._state.adding = False
    obj._state.db = connection.alias
