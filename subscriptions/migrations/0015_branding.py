"""Per-short-code branding of the preferences page, a message-frequency line per program,
and the staff groups synced again (Compliance and Marketing may now read unmatched
postbacks)."""

from django.contrib.auth.management import create_permissions
from django.db import migrations, models

from subscriptions.staff_groups import sync_groups


def resync_groups(apps, schema_editor):
    for app_config in apps.get_app_configs():
        app_config.models_module = True
        create_permissions(app_config, apps=apps, verbosity=0)
        app_config.models_module = None
    sync_groups(apps, strict=False)


class Migration(migrations.Migration):
    dependencies = [("subscriptions", "0014_integrity")]

    operations = [
        migrations.AddField(
            model_name="shortcode",
            name="logo_url",
            field=models.URLField(blank=True, help_text="https address of the brand's logo."),
        ),
        migrations.AddField(
            model_name="shortcode",
            name="brand_color",
            field=models.CharField(
                blank=True, help_text="The brand's colour as #rrggbb, e.g. #0b5cad.", max_length=7
            ),
        ),
        migrations.AddField(
            model_name="shortcode",
            name="privacy_url",
            field=models.URLField(blank=True, help_text="https address of the privacy policy."),
        ),
        migrations.AddField(
            model_name="shortcode",
            name="terms_url",
            field=models.URLField(blank=True, help_text="https address of the SMS terms."),
        ),
        migrations.AddField(
            model_name="shortcode",
            name="support_url",
            field=models.URLField(blank=True, help_text="https address where people get help."),
        ),
        migrations.AddField(
            model_name="keyword",
            name="frequency",
            field=models.CharField(
                blank=True,
                help_text="How often it texts, e.g. 'Up to 4 msgs/month'. Shown in the opt-in "
                "wording; empty: 'Message frequency varies.'",
                max_length=120,
            ),
        ),
        migrations.RunPython(resync_groups, migrations.RunPython.noop),
    ]
