"""Drift for staff: both groups read reconciliation runs and the drift they found
(staff_groups.py; the dashboard's "Drift found" tile links to that list, and Compliance reads
everything), and the admin names the list "Drift found" instead of "Drifts"."""

from django.contrib.auth.management import create_permissions
from django.db import migrations

from subscriptions.staff_groups import sync_groups


def resync_groups(apps, schema_editor):
    for app_config in apps.get_app_configs():
        app_config.models_module = True
        create_permissions(app_config, apps=apps, verbosity=0)
        app_config.models_module = None
    sync_groups(apps, strict=False)


class Migration(migrations.Migration):
    dependencies = [("subscriptions", "0021_webhook_pending_idx")]

    operations = [
        migrations.AlterModelOptions(
            name="drift",
            options={
                "ordering": ["-id"],
                "verbose_name": "drift row",
                "verbose_name_plural": "drift found",
            },
        ),
        migrations.RunPython(resync_groups, migrations.RunPython.noop),
    ]
