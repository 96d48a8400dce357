"""Roll up the dashboard's closed days (subscriptions.reporting.activity.close_days) and take
the snapshot of its current counts (activity.take_snapshot).

Run it on a schedule, never from a page: as its own process (`manage.py close_activity_days
--every 300`, the Procfile's `rollup`) or every 5 minutes from
deploy/systemd/portal-rollup.timer (the snapshot is used for 15 minutes).
Several may run at once: a day is summed by whichever gets there first.
"""

import time

from django.core.management.base import BaseCommand

from subscriptions.reporting import activity


class Command(BaseCommand):
    help = (
        "Sum each closed day of the consent history into the dashboard's roll-ups, once, "
        "and snapshot its current counts."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--days",
            type=int,
            default=activity.CLOSE_DAYS,
            help="How many days back to look for days not rolled up yet (default: %(default)s).",
        )
        parser.add_argument(
            "--every",
            type=float,
            default=0,
            metavar="SECONDS",
            help="Keep running, closing days every SECONDS (default: once).",
        )

    def handle(self, *args, days, every, **options):
        while True:
            closed = activity.close_days(days=days)
            activity.take_snapshot()
            if closed or options["verbosity"] > 1:
                self.stdout.write(f"rolled up {len(closed)} days")
            if every <= 0:
                return
            time.sleep(every)
