"""Starting reconciliations (the API, the command, the timer) and re-driving lost ones."""

from django.db import transaction
from django.utils import timezone

from subscriptions.common.errors import PortalError
from subscriptions.common.queueing import traced_enqueue
from subscriptions.models import ProviderAccount, Reconciliation, ShortCode
from subscriptions.reconciliation import tasks
from subscriptions.reconciliation.run import stale_runs
from subscriptions.reconciliation.scope import codes_of


class ScopeError(PortalError, ValueError):
    """The short code asked for is not served by the account."""


def start(
    account: ProviderAccount,
    *,
    short_code: ShortCode | None = None,
    dry_run: bool = False,
    requested_by: str = "",
    enqueue: bool = True,
) -> Reconciliation:
    """A queued run, on the bulk queue (enqueued on commit) unless the caller runs it."""
    if short_code is not None and short_code not in codes_of(account):
        raise ScopeError(f"{short_code.code} is not served by provider account {account.name!r}")
    reconciliation = Reconciliation.objects.create(
        provider=account,
        short_code=short_code,
        dry_run=dry_run,
        requested_by=requested_by[:150],
    )
    if enqueue:
        transaction.on_commit(lambda: traced_enqueue(tasks.reconcile, reconciliation.pk))
    return reconciliation


def start_all(
    *, short_code=None, dry_run=False, requested_by="", enqueue=True
) -> list[Reconciliation]:
    """One run per active provider account (of `short_code` only, when given)."""
    accounts = ProviderAccount.objects.filter(is_active=True).order_by("pk")
    runs = []
    for account in accounts:
        if short_code is not None and short_code not in codes_of(account):
            continue
        runs.append(
            start(
                account,
                short_code=short_code,
                dry_run=dry_run,
                requested_by=requested_by,
                enqueue=enqueue,
            )
        )
    return runs


def redrive(now=None) -> int:
    """Queue again the runs a dead worker or a lost task left behind (the sweeper)."""
    ids = stale_runs(now or timezone.now())
    for pk in ids:
        traced_enqueue(tasks.reconcile, pk)
    return len(ids)
