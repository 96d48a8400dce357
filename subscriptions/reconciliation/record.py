"""Recording a finished batch in one transaction: its drift rows (announced with
`drift_found`), the outbox rows that send the opt-outs again, the batch row a resumed run
skips, and the run's counters."""

from collections import defaultdict
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from subscriptions.consent.signals import drift_found
from subscriptions.delivery.state import known_state, lock_contact, next_version, to_json
from subscriptions.models import (
    Drift,
    DriftAction,
    Held,
    ProviderSync,
    Reconciliation,
    ReconciliationBatch,
)

OPERATION = "reconciliation"  # ProviderSync.operation of the rows a run writes


def lease_end(now=None):
    return (now or timezone.now()) + timedelta(seconds=settings.PORTAL_RECONCILE_LEASE_SECONDS)


def record_batch(run, batch, findings, *, learned, calls=0) -> list[int]:
    """Returns the ids of the outbox rows to deliver (none in a dry run). `learned`: the
    provider was read and holds these programs in (SFMC); otherwise it may hold them
    (unknown), so the delivery sends the opt-out whichever way it is."""
    with transaction.atomic():
        drift = [
            Drift(
                reconciliation=run,
                contact_id=f.contact_id,
                short_code_id=f.keyword.short_code_id,
                keyword=f.keyword,
                portal=f.portal,
                provider=f.provider,
                action=f.action,
            )
            for f in findings
        ]
        Drift.objects.bulk_create(drift)
        sync_ids = [] if run.dry_run else _outbox_rows(run, findings, learned)
        for row in drift:
            if row.provider != Held.UNKNOWN:  # found, not merely possible
                drift_found.send(sender=Drift, drift=row)
        ReconciliationBatch.objects.create(
            reconciliation=run,
            first_contact_id=batch[0][0],
            last_contact_id=batch[-1][0],
            checked=len(batch),
        )
        drifting = {f.contact_id for f in findings}
        Reconciliation.objects.filter(pk=run.pk).update(
            checked=F("checked") + len(batch),
            in_step=F("in_step") + sum(1 for pk, _phone in batch if pk not in drifting),
            drift=F("drift") + len(drift),
            provider_calls=F("provider_calls") + calls,
            locked_until=lease_end(),
        )
    return sync_ids


def _outbox_rows(run, findings, learned):
    targets = defaultdict(list)
    for f in findings:
        if f.action == DriftAction.OPT_OUT_SENT:
            targets[(f.contact_id, f.keyword.short_code_id)].append(f.keyword)
    ids = []
    for (contact_id, code_id), keywords in sorted(targets.items()):
        lock_contact(contact_id)
        row = ProviderSync(
            contact_id=contact_id,
            short_code_id=code_id,
            provider_id=run.provider_id,
            operation=OPERATION,
        )
        known = known_state(contact_id, code_id, run.provider_id)
        known.update((kw.pk, True if learned else None) for kw in keywords)
        row.state, row.state_version = to_json(known), next_version(row)
        words = ", ".join(kw.word for kw in keywords)
        found = "holds" if learned else "may hold"
        row.detail = (
            f"reconciliation #{run.pk}: {run.provider.name} {found} {words} in; "
            f"the portal has it out, so the opt-out is sent again"
        )
        row.save()
        ids.append(row.pk)
    return ids
