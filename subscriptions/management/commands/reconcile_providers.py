"""manage.py reconcile_providers [--provider ID] [--short-code CODE] [--dry-run] [--queue]
[--every SECONDS]: reconciliation with the providers (subscriptions/reconciliation/).

Without --queue the runs go in this process, one provider account after the other, and
their counts are printed; with --queue they go on the bulk queue for the bulk workers (the
nightly timer, deploy/systemd/portal-reconcile.timer). --every repeats (the Procfile)."""

import time

from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from subscriptions.models import ProviderAccount, ShortCode
from subscriptions.reconciliation import run as runs
from subscriptions.reconciliation import service


class Command(BaseCommand):
    help = "Reconcile the portal's consent state with what the providers hold."

    def add_arguments(self, parser):
        parser.add_argument("--provider", type=int, metavar="ID", help="One provider account.")
        parser.add_argument("--short-code", metavar="CODE", help="One short code.")
        parser.add_argument("--dry-run", action="store_true", help="Report, send nothing.")
        parser.add_argument(
            "--queue", action="store_true", help="Queue the runs on the bulk queue."
        )
        parser.add_argument(
            "--every", type=float, default=0, metavar="SECONDS", help="Repeat every SECONDS."
        )

    def handle(self, *args, provider, short_code, dry_run, queue, every, **options):
        account = code = None
        if provider is not None:
            account = ProviderAccount.objects.filter(pk=provider).first()
            if account is None:
                raise CommandError(f"No provider account {provider}.")
        if short_code:
            code = ShortCode.objects.filter(code=short_code).first()
            if code is None:
                raise CommandError(f"No short code {short_code}.")
        while True:
            self.once(account, code, dry_run, queue)
            if every <= 0:
                return
            time.sleep(every)

    def once(self, account, code, dry_run, queue):
        try:
            with transaction.atomic():
                if account is not None:
                    started = [
                        service.start(
                            account,
                            short_code=code,
                            dry_run=dry_run,
                            requested_by="command",
                            enqueue=queue,
                        )
                    ]
                else:
                    started = service.start_all(
                        short_code=code, dry_run=dry_run, requested_by="command", enqueue=queue
                    )
        except service.ScopeError as error:
            raise CommandError(str(error)) from error
        if queue:
            self.stdout.write(f"queued {len(started)} reconciliation(s) on the bulk queue")
            return
        for reconciliation in started:
            done = runs.run(reconciliation.pk) or reconciliation
            done.refresh_from_db()
            self.stdout.write(
                f"#{done.pk} {done.provider.name}: {done.status}, checked {done.checked}, "
                f"in step {done.in_step}, drift {done.drift}"
                + (" (dry run)" if done.dry_run else "")
                + (f": {done.failure}" if done.failure else "")
            )
