"""Least-privilege PostgreSQL roles (deploy/README.md "Database roles").

An owner role owns the schema and runs `migrate`; the application role (web, workers,
sweeper) gets only what it needs: on the consent history table INSERT and SELECT, nothing
else, so neither a bug nor a stolen application password can UPDATE, DELETE, TRUNCATE the
history or disable its append-only trigger (only a table's owner may ALTER it).
"""

from django.db import connection

HISTORY_TABLE = "subscriptions_subscriptionevent"


def grant_statements(role: str) -> list[str]:
    """The SQL the owner runs after each `migrate` to grant `role` its privileges."""
    role = connection.ops.quote_name(role)
    history = connection.ops.quote_name(HISTORY_TABLE)
    return [
        f"GRANT USAGE ON SCHEMA public TO {role}",
        f"GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO {role}",
        f"GRANT USAGE, SELECT, UPDATE ON ALL SEQUENCES IN SCHEMA public TO {role}",
        f"REVOKE ALL ON {history} FROM {role}",
        f"GRANT SELECT, INSERT ON {history} TO {role}",
        f"REVOKE TRUNCATE, REFERENCES, TRIGGER ON ALL TABLES IN SCHEMA public FROM {role}",
    ]


def history_privilege_problems(conn=connection) -> list[str]:
    """What the connected role may do to the history table beyond INSERT and SELECT."""
    if conn.vendor != "postgresql":
        return []
    with conn.cursor() as cursor:
        cursor.execute(
            "SELECT tableowner = current_user, "
            "(SELECT rolsuper FROM pg_roles WHERE rolname = current_user), "
            "has_table_privilege(%s, 'UPDATE'), has_table_privilege(%s, 'DELETE'), "
            "has_table_privilege(%s, 'TRUNCATE') "
            "FROM pg_tables WHERE tablename = %s",
            [HISTORY_TABLE, HISTORY_TABLE, HISTORY_TABLE, HISTORY_TABLE],
        )
        row = cursor.fetchone()
    if row is None:
        return []  # not migrated yet
    owns, superuser, update, delete, truncate = row
    problems = []
    if superuser:
        problems.append("is a superuser")
    if owns:
        problems.append("owns the history table (it can disable the append-only trigger)")
    problems += [
        f"may {verb}"
        for verb, can in (("UPDATE", update), ("DELETE", delete), ("TRUNCATE", truncate))
        if can
    ]
    return problems
