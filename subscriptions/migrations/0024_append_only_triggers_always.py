"""The history's append-only triggers fire in every session_replication_role.

A set-based import chunk runs its write statements with session_replication_role = replica
to skip the per-row foreign-key triggers, and checks the keys set-wise instead
(imports/references.py, docs/adr/0007). Plain triggers are skipped in replica mode too;
ENABLE ALWAYS keeps "no update, no delete" of the history absolute there as well.
"""

from django.db import migrations

TABLES_AND_TRIGGERS = (
    ("subscriptions_subscriptionevent", "subscriptions_event_append_only"),
    ("subscriptions_revocation", "subscriptions_revocation_append_only"),
    ("subscriptions_revocationdecision", "subscriptions_revocationdecision_append_only"),
    ("subscriptions_revocationinstep", "subscriptions_revocationinstep_append_only"),
)


def _enable(how):
    def run(apps, schema_editor):
        if schema_editor.connection.vendor != "postgresql":
            return
        for table, trigger in TABLES_AND_TRIGGERS:
            schema_editor.execute(f"ALTER TABLE {table} ENABLE {how} TRIGGER {trigger}")

    return run


class Migration(migrations.Migration):
    dependencies = [("subscriptions", "0023_sendable_state_index")]

    operations = [migrations.RunPython(_enable("ALWAYS"), _enable(""))]
