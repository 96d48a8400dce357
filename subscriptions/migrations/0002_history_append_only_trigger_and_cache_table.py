"""Make the consent history append-only in the database itself (PostgreSQL: a trigger
refuses UPDATE and DELETE on subscriptions_subscriptionevent, whatever client connects), and
create the database cache table that throttles, rate limits and one-time codes share."""

from django.core.management import call_command
from django.db import migrations

TRIGGER_SQL = """
CREATE OR REPLACE FUNCTION subscriptions_event_append_only() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'consent history is append-only: % refused on %', TG_OP, TG_TABLE_NAME
        USING ERRCODE = 'insufficient_privilege';
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER subscriptions_event_append_only
    BEFORE UPDATE OR DELETE ON subscriptions_subscriptionevent
    FOR EACH ROW EXECUTE FUNCTION subscriptions_event_append_only();
"""

DROP_SQL = """
DROP TRIGGER IF EXISTS subscriptions_event_append_only ON subscriptions_subscriptionevent;
DROP FUNCTION IF EXISTS subscriptions_event_append_only();
"""


# TRUNCATE is left to privileges, not a trigger: it needs table ownership or the TRUNCATE
# grant, which the application's role should not have in production, and Django's test
# flush relies on it.


def install_trigger(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(TRIGGER_SQL, params=None)


def remove_trigger(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(DROP_SQL)


def create_cache_table(apps, schema_editor):
    from io import StringIO

    call_command("createcachetable", database=schema_editor.connection.alias, stdout=StringIO())


class Migration(migrations.Migration):
    dependencies = [("subscriptions", "0001_domain_model")]

    operations = [
        migrations.RunPython(install_trigger, remove_trigger),
        migrations.RunPython(create_cache_table, migrations.RunPython.noop),
    ]
