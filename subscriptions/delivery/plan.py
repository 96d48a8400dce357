"""Planning, inside the consent service's transaction: one ProviderSync row per target the
events touch, enqueued on commit."""

import logging

from django.db import transaction

from subscriptions.common.queueing import traced_enqueue, traced_enqueue_each
from subscriptions.consent import catalog
from subscriptions.delivery import tasks
from subscriptions.delivery.state import (
    BULK_SOURCES,
    NO_FACTS,
    came_from,
    handset_since,
    mark_echo,
    mark_unknown,
    target_facts,
)
from subscriptions.models import ProviderSync, SyncStatus

logger = logging.getLogger("subscriptions.delivery")

GROUP_SIZE = 250  # rows per grouped delivery task (SFMC queueMO takes 250 numbers a call)


def enqueue_syncs(ids):
    traced_enqueue_each(tasks.deliver_sync, ids)


def enqueue_groups(ids):
    """Rows of a bulk source (an import's batch): one task per GROUP_SIZE rows, so that
    their code-wide STOPs share provider calls (delivery/grouped.py)."""
    for start in range(0, len(ids), GROUP_SIZE):
        traced_enqueue(tasks.deliver_sync_group, ids[start : start + GROUP_SIZE])


def _targets(events):
    """{(contact id, short code id, account id): [events]} for the applied events."""
    targets = {}
    for event in events:
        if event.keyword_id:
            accounts = {event.keyword.account_id}
        else:  # code-wide (STOP, START): every account with programs on the code
            accounts = catalog.accounts_serving(event.short_code)  # kept per process
        for account_id in accounts:
            key = (event.contact_id, event.short_code_id, account_id)
            targets.setdefault(key, []).append(event)
    return targets


def plan(events, *, new_contact=False):
    """Write the outbox rows for applied events and enqueue their delivery on commit.
    `new_contact`: the events' contact was created in this call, so its targets have no
    earlier rows to read."""
    rows = []
    for (contact_id, code_id, account_id), target_events in _targets(events).items():
        row = ProviderSync(
            contact_id=contact_id,
            short_code_id=code_id,
            provider_id=account_id,
            event=target_events[-1],
        )
        if came_from(account_id, target_events):
            # The target's earlier rows, read once: known state, version, deliveries since.
            facts = NO_FACTS if new_contact else target_facts(row, handset_since(target_events))
            if facts.changed_since:
                mark_unknown(row, target_events, facts)
            else:
                mark_echo(row, target_events, facts)
        rows.append(row)
    ProviderSync.objects.bulk_create(rows)
    _hand_over(events, rows)
    pending = [row.pk for row in rows if row.status == SyncStatus.PENDING]
    if len(pending) > 1 and all(e.source in BULK_SOURCES for e in events):
        transaction.on_commit(lambda: enqueue_groups(pending))
    elif pending:
        transaction.on_commit(lambda: enqueue_syncs(pending))
    return rows


def _hand_over(events, rows):
    """Each event keeps the outbox rows written for it (`planned_syncs`: the rows whose
    event it is), so that what the same transaction does next with them (a revocation
    links the deliveries it caused, revocations/measure.py) needs no query to find them."""
    by_event: dict[int, list[ProviderSync]] = {}
    for row in rows:
        by_event.setdefault(row.event_id, []).append(row)
    for event in events:
        event.planned_syncs = by_event.get(event.pk, [])
