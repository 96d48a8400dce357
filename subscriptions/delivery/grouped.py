"""Batch delivery where a provider accepts it: SFMC's queueMO takes up to 250 mobile numbers
in one call, so the code-wide STOPs of an import or a reconciliation go out as a few calls
instead of one per number. Each row is still claimed, compared and recorded on its own (as
`worker.deliver_sync` does); only the provider call is shared. Rows that need anything
else than that one STOP are delivered one by one."""

import logging
from collections.abc import Iterable

from django.utils import timezone

from subscriptions.delivery.worker import (
    _finish,
    _inactive,
    _record_failure,
    claim,
    deliver_claimed,
    enqueue_waiting,
)
from subscriptions.models import SyncStatus
from subscriptions.providers.base import ProviderError, redacted
from subscriptions.providers.registry import adapter_for

logger = logging.getLogger("subscriptions.delivery")

GROUP_LIMIT = 250  # SFMC queueMO: numbers per call


def deliver_group(sync_ids: Iterable[int], now=None) -> int:
    """Deliver these outbox rows, sharing one provider call among the rows whose delivery is
    the same code-wide STOP; returns the number of provider calls the groups made."""
    now = now or timezone.now()
    groups, calls = {}, 0
    for pk in sync_ids:
        claimed = claim(pk, now)
        if claimed is None:
            continue
        row, rec = claimed
        word = _stop_word(row, rec)
        if word is None:
            deliver_claimed(row, rec)
        else:
            groups.setdefault((row.provider_id, row.short_code.code, word), []).append(claimed)
    for (_account, code, word), members in groups.items():
        for start in range(0, len(members), GROUP_LIMIT):
            _send_group(code, word, members[start : start + GROUP_LIMIT])
            calls += 1
    return calls


def _stop_word(row, rec):
    if not row.provider.is_active:
        return None
    stop_word = getattr(adapter_for(row.provider), "stop_word", None)
    return stop_word(rec) if stop_word else None


def _send_group(code, word, members):
    first = members[0][0]
    adapter = adapter_for(first.provider, sync=first)
    try:
        if not first.provider.is_active:
            raise _inactive(first.provider)
        adapter.queue_mo_many(code, word, [rec.digits for _row, rec in members])
    except ProviderError as error:
        error = redacted(error, first.provider)
        for row, rec in members:
            if error.maybe_applied:
                rec.outcome_unknown()
            _record_failure(row, error, rec.reached)
    else:
        for row, rec in members:
            rec.arrived(rec.keywords.values(), False)
            _finish(
                row,
                rec.settled(),
                status=SyncStatus.SUCCEEDED,
                detail=f"queueMO {word} on {code} (one call for {len(members)} numbers)",
            )
    for row, _rec in members:
        enqueue_waiting(row)
