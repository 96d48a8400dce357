"""Revocation records (append-only, like the history: a PostgreSQL trigger refuses UPDATE
and DELETE on them, reusing 0002's function), a short code's own revocation phrases, the
review actions of the history, and the staff groups' new permissions."""

import django.db.models.deletion
import django.utils.timezone
import subscriptions.models.catalog
from django.conf import settings
from django.contrib.auth.management import create_permissions
from django.db import migrations, models

from subscriptions.staff_groups import sync_groups

TABLES = ("subscriptions_revocation", "subscriptions_revocationdecision")


def install_triggers(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for table in TABLES:
        schema_editor.execute(
            f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
            "FOR EACH ROW EXECUTE FUNCTION subscriptions_event_append_only();"
        )


def remove_triggers(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for table in TABLES:
        schema_editor.execute(f"DROP TRIGGER IF EXISTS {table}_append_only ON {table};")


def update_groups(apps, schema_editor):
    # As in 0006: the new permissions must exist before the groups are given them.
    for app_config in apps.get_app_configs():
        app_config.models_module = True
        create_permissions(app_config, apps=apps, verbosity=0)
        app_config.models_module = None
    sync_groups(apps, strict=False)


class Migration(migrations.Migration):

    dependencies = [
        ('subscriptions', '0010_provider_state_versions'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]

    operations = [
        migrations.AddField(
            model_name='shortcode',
            name='revocation_phrases',
            field=models.TextField(blank=True, help_text='The brand\'s own words for "stop texting me", one phrase a line (up to 6 words each): a text containing one is a revocation on this code, besides the built-in English and Spanish words.', validators=[subscriptions.models.catalog.validate_revocation_phrases]),
        ),
        migrations.AlterField(
            model_name='subscriptionevent',
            name='action',
            field=models.CharField(choices=[('opt_in', 'Opt in'), ('opt_out', 'Opt out'), ('stop_all', 'Stop all (code-wide)'), ('custom_stop', 'Custom stop (one provider account)'), ('confirm', 'Confirm double opt-in'), ('restart', 'Restart after STOP (START / UNSTOP)'), ('help', 'Help'), ('none', 'No action'), ('review', 'Paused: may be a revocation (staff decide)'), ('review_done', 'Revocation review decided')], max_length=12),
        ),
        migrations.CreateModel(
            name='Revocation',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('channel', models.CharField(choices=[('sms', 'Text message'), ('web', 'Web'), ('phone_call', 'Phone call'), ('email', 'Email'), ('letter', 'Letter'), ('in_person', 'In person'), ('chat', 'Chat'), ('other', 'Other')], max_length=12)),
                ('text', models.TextField(help_text="The person's words, verbatim.")),
                ('received_at', models.DateTimeField(help_text='When the person revoked (at the source).')),
                ('recorded_at', models.DateTimeField(default=django.utils.timezone.now)),
                ('due_by', models.DateTimeField(help_text='received_at + 10 US business days.')),
                ('verdict', models.CharField(choices=[('stop', 'Clear revocation'), ('review', 'May be a revocation'), ('recorded', 'Recorded by staff or an integration')], max_length=10)),
                ('matched', models.CharField(blank=True, help_text='What the classifier read.', max_length=120)),
                ('applied_at', models.DateTimeField(blank=True, help_text='Applied at receipt; empty while it waits for staff.', null=True)),
                ('confirmation', models.CharField(choices=[('portal', "The portal texted the short code's stop text"), ('provider', 'The provider texts its own STOP confirmation'), ('none', 'None (nothing changed: the number was already stopped)'), ('pending', 'Not yet (waiting for a decision)')], max_length=10)),
                ('recorded_by_label', models.CharField(blank=True, max_length=150)),
                ('external_id', models.CharField(blank=True, help_text='MO message id.', max_length=200)),
                ('contact', models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='revocations', to='subscriptions.contact')),
                ('recorded_by', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.PROTECT, related_name='+', to=settings.AUTH_USER_MODEL)),
                ('short_codes', models.ManyToManyField(help_text='The scope: the codes it applies to.', related_name='revocations', to='subscriptions.shortcode')),
            ],
            options={
                'ordering': ['-received_at', '-id'],
                'permissions': [('decide_revocation', 'Can decide revocations under review')],
            },
        ),
        migrations.CreateModel(
            name='RevocationDecision',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('decision', models.CharField(choices=[('revoke', 'Revoke'), ('not_a_revocation', 'Not a revocation')], max_length=20)),
                ('reason', models.TextField()),
                ('decided_by_label', models.CharField(blank=True, max_length=150)),
                ('decided_at', models.DateTimeField(default=django.utils.timezone.now)),
                ('confirmation', models.CharField(choices=[('portal', "The portal texted the short code's stop text"), ('provider', 'The provider texts its own STOP confirmation'), ('none', 'None (nothing changed: the number was already stopped)'), ('pending', 'Not yet (waiting for a decision)')], max_length=10)),
                ('decided_by', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.PROTECT, related_name='+', to=settings.AUTH_USER_MODEL)),
                ('revocation', models.OneToOneField(on_delete=django.db.models.deletion.PROTECT, related_name='decision', to='subscriptions.revocation')),
            ],
            options={
                'ordering': ['-decided_at', '-id'],
            },
        ),
        migrations.AddIndex(
            model_name='revocation',
            index=models.Index(fields=['contact', '-received_at'], name='revocation_contact_idx'),
        ),
        migrations.AddIndex(
            model_name='revocation',
            index=models.Index(fields=['applied_at', 'due_by'], name='revocation_due_idx'),
        ),
        migrations.AddConstraint(
            model_name='revocation',
            constraint=models.CheckConstraint(condition=models.Q(('applied_at__isnull', False), ('verdict', 'review'), _negated=True), name='revocation_review_not_applied_at_receipt'),
        ),
        migrations.RunPython(install_triggers, remove_triggers),
        migrations.RunPython(update_groups, migrations.RunPython.noop),
    ]
