from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("subscriptions", "0015_branding")]

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
    ]
