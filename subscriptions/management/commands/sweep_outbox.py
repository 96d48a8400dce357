"""Re-drive the outbox: due and stuck provider syncs, queued texts (delivery.sweep), webhook
deliveries, lost reconciliation runs, and imports whose worker died (with old uploads).

Run it next to `manage.py db_worker`, either as its own long-running process
(`manage.py sweep_outbox --every 30`) or once a minute from cron / a systemd timer.
Several sweepers may run at once: rows are claimed with SKIP LOCKED.
"""

import time

from django.core.management.base import BaseCommand

from subscriptions.delivery import sweep
from subscriptions.imports import maintenance
from subscriptions.reconciliation import service as reconciliation
from subscriptions.webhooks import sweep as webhook_sweep


class Command(BaseCommand):
    help = (
        "Re-drive due and stuck provider syncs, queued texts, webhook deliveries and lost "
        "reconciliations; fail dead imports and delete old uploads."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--every",
            type=float,
            default=0,
            metavar="SECONDS",
            help="Keep running, sweeping every SECONDS (default: once).",
        )
        parser.add_argument(
            "--limit", type=int, default=1000, help="Most rows of each kind enqueued per sweep."
        )

    def handle(self, *args, every, limit, **options):
        verbose = options["verbosity"] > 1
        while True:
            syncs, texts = sweep.sweep(limit=limit)
            runs = reconciliation.redrive()  # on the bulk queue; they resume where they were
            if syncs or texts or runs or verbose:
                self.stdout.write(
                    f"re-driven: {syncs} provider syncs, {texts} texts, {runs} reconciliations"
                )
            webhooks = webhook_sweep.sweep(limit=limit)
            if webhooks or verbose:
                self.stdout.write(f"re-driven: {webhooks} webhook deliveries")
            dead, purged = maintenance.fail_dead(), maintenance.purge_files()
            if dead or purged or verbose:
                self.stdout.write(f"imports: {dead} dead marked failed, {purged} files deleted")
            if every <= 0:
                return
            time.sleep(every)
