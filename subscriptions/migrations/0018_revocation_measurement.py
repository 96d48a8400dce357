"""Revocations, second part: the portal's own opt-out paths recorded as revocations (channels
`api` and `staff`; a revocation of some programs only, with the short code's `opt_out_text`
as its confirmation), the provider deliveries each caused, and the append-only moment every
provider was in step (a PostgreSQL trigger refuses UPDATE and DELETE, as in 0011)."""

import django.db.models.deletion
import django.utils.timezone
from django.db import migrations, models


IN_STEP = "subscriptions_revocationinstep"


def install_trigger(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(
            f"CREATE TRIGGER {IN_STEP}_append_only BEFORE UPDATE OR DELETE ON {IN_STEP} "
            "FOR EACH ROW EXECUTE FUNCTION subscriptions_event_append_only();"
        )


def remove_trigger(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(f"DROP TRIGGER IF EXISTS {IN_STEP}_append_only ON {IN_STEP};")


class Migration(migrations.Migration):

    dependencies = [
        ('subscriptions', '0017_bulk_imports'),
    ]

    operations = [
        migrations.AddField(
            model_name='revocation',
            name='keywords',
            field=models.ManyToManyField(blank=True, help_text='A revocation of some programs only (one turned off): those programs. Empty: every program on its codes (a STOP).', related_name='revocations', to='subscriptions.keyword'),
        ),
        migrations.AddField(
            model_name='revocation',
            name='syncs',
            field=models.ManyToManyField(blank=True, help_text='The provider deliveries it caused (at receipt, or at a revoke decision); added once, never removed.', related_name='revocations', to='subscriptions.providersync'),
        ),
        migrations.AddField(
            model_name='shortcode',
            name='opt_out_text',
            field=models.TextField(default='{brand}: you are unsubscribed from {program}.', help_text='The confirmation of a revocation of some programs only (one turned off on the preferences page, an opt-out of one program): no marketing.'),
        ),
        migrations.AlterField(
            model_name='revocation',
            name='channel',
            field=models.CharField(choices=[('sms', 'Text message'), ('web', 'Web'), ('phone_call', 'Phone call'), ('email', 'Email'), ('letter', 'Letter'), ('in_person', 'In person'), ('chat', 'Chat'), ('other', 'Other'), ('api', 'Integration (API opt-out)'), ('staff', 'Staff action in the admin')], max_length=12),
        ),
        migrations.CreateModel(
            name='RevocationInStep',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('in_step_at', models.DateTimeField(default=django.utils.timezone.now)),
                ('syncs', models.PositiveIntegerField(help_text='Provider deliveries it waited for.')),
                ('local_only', models.PositiveIntegerField(default=0, help_text='Of those, the ones the provider could not be told.')),
                ('revocation', models.OneToOneField(on_delete=django.db.models.deletion.PROTECT, related_name='in_step', to='subscriptions.revocation')),
            ],
            options={
                'ordering': ['-in_step_at', '-id'],
            },
        ),
        migrations.RunPython(install_trigger, remove_trigger),
    ]
