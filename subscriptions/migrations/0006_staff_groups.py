"""The "Marketing" and "Compliance" staff groups (subscriptions/staff_groups.py)."""

from django.contrib.auth.management import create_permissions
from django.db import migrations

from subscriptions.staff_groups import sync_groups


def create_groups(apps, schema_editor):
    # Permissions are normally created after all migrations ran; this one needs them now.
    for app_config in apps.get_app_configs():
        app_config.models_module = True
        create_permissions(app_config, apps=apps, verbosity=0)
        app_config.models_module = None
    sync_groups(apps, strict=False)


def remove_groups(apps, schema_editor):
    apps.get_model("auth", "Group").objects.filter(name__in=["Marketing", "Compliance"]).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("subscriptions", "0005_import_jobs"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]

    operations = [migrations.RunPython(create_groups, remove_groups)]
