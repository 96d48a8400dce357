from django.db import migrations, models


class Migration(migrations.Migration):
    """The index a webhook drain claims by: an endpoint's pending deliveries in id order,
    without walking its delivered history."""

    dependencies = [("subscriptions", "0018_revocation_measurement")]

    operations = [
        migrations.AddIndex(
            model_name="webhookdelivery",
            index=models.Index(
                condition=models.Q(("status", "pending")),
                fields=["endpoint", "id"],
                name="webhook_pending_idx",
            ),
        ),
    ]
