"""Re-drive the outbox: due and stuck provider syncs, queued texts (sweep.sweep); mark
imports whose worker died failed and delete old uploaded import files
(imports.maintenance).

Run it next to `manage.py db_worker`, either as its own long-running process
(`manage.py sweep_outbox --every 30`) or once a minute from cron / a systemd timer.
Several sweepers may run at once: rows are claimed with SKIP LOCKED.
"""

import time

from django.core.management.base import BaseCommand

from subscriptions.delivery import sweep
from subscriptions.imports import maintenance
from subscriptions.webhooks import sweep as webhook_sweep


class Command(BaseCommand):
    help = "Re-drive due and stuck provider syncs, queued texts and webhook deliveries."

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
        while True:
            syncs, texts = sweep.sweep(limit=limit)
            if syncs or texts or options["verbosity"] > 1:
                self.stdout.write(f"re-driven: {syncs} provider syncs, {texts} texts")
            webhooks = webhook_sweep.sweep(limit=limit)
            if webhooks or options["verbosity"] > 1:
                self.stdout.write(f"re-driven: {webhooks} webhook deliveries")
            dead, purged = maintenance.fail_dead(), maintenance.purge_files()
            if dead or purged or options["verbosity"] > 1:
                self.stdout.write(f"imports: {dead} dead marked failed, {purged} files deleted")
            if every <= 0:
                return
            time.sleep(every)
