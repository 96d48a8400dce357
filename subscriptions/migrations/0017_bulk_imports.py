from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("subscriptions", "0010_provider_state_versions")]

    operations = [
        migrations.AddField(
            model_name="importjob",
            name="cursor",
            field=models.PositiveBigIntegerField(
                default=0,
                editable=False,
                help_text="Data rows of the file committed so far (set-based imports): a "
                "restarted import skips these and goes on from the next chunk.",
            ),
        ),
        migrations.AddField(
            model_name="importjob",
            name="heartbeat_at",
            field=models.DateTimeField(
                blank=True,
                editable=False,
                help_text="When a worker last committed a chunk; a running import whose "
                "heartbeat is older than PORTAL_IMPORT_LEASE_SECONDS may be resumed by "
                "another worker.",
                null=True,
            ),
        ),
    ]
