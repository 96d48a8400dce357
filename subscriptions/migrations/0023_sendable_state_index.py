"""Subscriptions by (contact, short code) carry keyword and status in the index key, so
batch sendable reads a number's states from the index alone (issue 14). The new index has
the old one's leading columns: every query that used sub_contact_code_idx can use it. It is
built before the old one is dropped."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("subscriptions", "0022_drift_for_staff"),
    ]

    operations = [
        migrations.AddIndex(
            model_name="subscription",
            index=models.Index(
                fields=["contact", "short_code", "keyword", "status"],
                name="sub_contact_code_state_idx",
            ),
        ),
        migrations.RemoveIndex(
            model_name="subscription",
            name="sub_contact_code_idx",
        ),
    ]
