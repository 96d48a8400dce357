"""Delivery of several rows in one task (an import's batch, a reconciliation's): claimed
together (claims.py, in two transactions: a few rows first, so that calls start at once),
their provider calls overlapped on a few threads (overlap.py), their outcomes recorded in
batches (record.py). Where a provider accepts a batch, SFMC's queueMO
takes up to 250 mobile numbers in one call, the code-wide STOPs go out as a few calls
instead of one per number; each row is still compared and recorded on its own, only the
provider call is shared. Rows that need anything else than that one STOP are delivered one
by one, beside the shared calls."""

import logging
from collections.abc import Iterable
from functools import partial

from django.utils import timezone

from subscriptions.delivery.claims import claim_many
from subscriptions.delivery.overlap import call_slot, calls_per_worker, run_and_record
from subscriptions.delivery.record import Outcome
from subscriptions.delivery.worker import _inactive, attempt, waited_too_long
from subscriptions.models import SyncStatus
from subscriptions.providers.base import ProviderError, redacted
from subscriptions.providers.registry import adapter_for

logger = logging.getLogger("subscriptions.delivery")

GROUP_LIMIT = 250  # SFMC queueMO: numbers per call


def deliver_group(sync_ids: Iterable[int], now=None) -> int:
    """Deliver these outbox rows, sharing one provider call among the rows whose delivery is
    the same code-wide STOP; returns the number of provider calls the groups made."""
    shared = []
    run_and_record(_jobs(list(sync_ids), now or timezone.now(), shared), calls_per_worker())
    return len(shared)


def _jobs(ids, now, shared):
    """The delivery jobs of the rows, as they are claimed. The first few rows are claimed
    on their own, so that their calls are under way while the claim of the others runs;
    the shared STOPs go once every row is claimed (up to GROUP_LIMIT numbers a call)."""
    groups, adapters = {}, {}
    head = calls_per_worker() * 2
    for chunk in (ids[:head], ids[head:]):
        for row, rec in claim_many(chunk, now):
            word = _stop_word(row, rec, adapters)
            if word is None:
                yield partial(_one, row, rec)
            else:
                groups.setdefault((row.provider_id, row.short_code.code, word), []).append(
                    (row, rec)
                )
    for (_account, code, word), members in groups.items():
        for start in range(0, len(members), GROUP_LIMIT):
            shared.append(code)
            yield partial(_send_group, code, word, members[start : start + GROUP_LIMIT])


def _one(row, rec):
    return [attempt(row, rec)]


def _stop_word(row, rec, adapters):
    """The code-wide STOP the row's delivery comes to, where its provider can share one call
    among many (`adapters`: one per account, for the task)."""
    if not row.provider.is_active:
        return None
    if row.provider_id not in adapters:
        adapters[row.provider_id] = adapter_for(row.provider)
    stop_word = getattr(adapters[row.provider_id], "stop_word", None)
    return stop_word(rec) if stop_word else None


def _send_group(code, word, members):
    with call_slot():
        return _call_group(code, word, members)


def _call_group(code, word, members):
    first = members[0][0]
    outcomes = [Outcome(row, rec) for row, rec in members]
    if any(waited_too_long(row) for row, _rec in members):
        for outcome in outcomes:  # not made (worker.waited_too_long)
            outcome.released = True
        return outcomes
    adapter = adapter_for(first.provider, sync=first, call_log=outcomes[0].calls)
    try:
        if not first.provider.is_active:
            raise _inactive(first.provider)
        adapter.queue_mo_many(code, word, [rec.digits for _row, rec in members])
    except ProviderError as error:
        error = redacted(error, first.provider)
        for outcome in outcomes:
            if error.maybe_applied:
                outcome.rec.outcome_unknown()
            outcome.error = error
    else:
        for outcome in outcomes:
            outcome.rec.arrived(outcome.rec.keywords.values(), False)
            outcome.status = SyncStatus.SUCCEEDED
            outcome.detail = f"queueMO {word} on {code} (one call for {len(members)} numbers)"
    return outcomes
