"""Re-encrypt every provider account's secrets with the newest PORTAL_ENCRYPTION_KEY.

Rotation: put the new key first in PORTAL_ENCRYPTION_KEY (new,old), deploy, run this,
then drop the old key.
"""

from django.core.management.base import BaseCommand
from django.db import transaction

from subscriptions.common import crypto
from subscriptions.models import ProviderAccount


class Command(BaseCommand):
    help = "Re-encrypt provider secrets with the newest encryption key."

    @transaction.atomic
    def handle(self, *args, **options):
        accounts = ProviderAccount.objects.select_for_update().exclude(secrets_encrypted="")
        for account in accounts:
            account.secrets_encrypted = crypto.rotate(account.secrets_encrypted)
            account.save(update_fields=["secrets_encrypted"])
        self.stdout.write(f"re-encrypted the secrets of {len(accounts)} provider accounts")
