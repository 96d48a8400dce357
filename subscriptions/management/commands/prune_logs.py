"""Retention: prune operational logs, never consent history.

HTTP call logs (ProviderCall) older than PORTAL_CALL_LOG_RETENTION_DAYS, Idempotency-Key
records past their 24 hours, rate-limit counters whose window has ended and finished task
results older than PORTAL_TASK_RESULT_RETENTION_DAYS are deleted in small batches, so a
large backlog never holds long locks. SubscriptionEvent, Subscription, ShortCodeStop and
ProviderSync rows are consent evidence and are kept. Run it daily (docs/operations.md).
"""

from datetime import timedelta

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand
from django.tasks import default_task_backend
from django.utils import timezone

from subscriptions.api.idempotency import LIFETIME
from subscriptions.common import limits
from subscriptions.models import IdempotencyKey, ProviderCall

BATCH = 5000


class Command(BaseCommand):
    help = (
        "Delete HTTP call logs, finished task results and rate-limit counters past their "
        "retention period."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--call-log-days", type=int, default=settings.PORTAL_CALL_LOG_RETENTION_DAYS
        )
        parser.add_argument(
            "--task-result-days", type=int, default=settings.PORTAL_TASK_RESULT_RETENTION_DAYS
        )
        parser.add_argument("--dry-run", action="store_true")

    def handle(self, *args, call_log_days, task_result_days, dry_run, **options):
        now = timezone.now()
        self._prune(
            "provider calls",
            ProviderCall.objects.filter(created_at__lt=now - timedelta(days=call_log_days)),
            dry_run,
        )
        self._prune(
            "idempotency keys",
            IdempotencyKey.objects.filter(created_at__lt=now - LIFETIME),
            dry_run,
        )
        self._prune("expired rate-limit counters", limits.expired(now), dry_run)
        if default_task_backend.__class__.__name__ == "DatabaseBackend":
            call_command(
                "prune_db_task_results",
                queue_name="*",
                min_age_days=task_result_days,
                dry_run=dry_run,
                stdout=self.stdout,
            )

    def _prune(self, what, queryset, dry_run):
        count = queryset.count() if dry_run else self._delete_in_batches(queryset)
        self.stdout.write(f"{'would delete' if dry_run else 'deleted'} {count} {what}")

    @staticmethod
    def _delete_in_batches(queryset):
        deleted = 0
        while ids := list(queryset.values_list("id", flat=True)[:BATCH]):
            # The filter again: a rate-limit counter may have started a new window since.
            deleted += queryset.filter(id__in=ids).delete()[0]
        return deleted
