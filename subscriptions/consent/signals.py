"""Published signals: the extension points of the consent core.

Every signal is sent inside the transaction that wrote what it announces. Receivers that
talk to the outside world must only write rows here (an outbox) and act in
`transaction.on_commit`.

subscription_changed(sender, events, source, new_contact=False)
    Sent by services with the applied SubscriptionEvent rows (program-level and
    code-wide), once per service call, so a receiver can batch its work. `new_contact`:
    the call created the contact row, so nothing of it was written before (no earlier
    provider sync rows to read).

revocation_received(sender, revocation)
    A revocation record was opened (any channel; issue "Revocation by any reasonable means").

revocation_decided(sender, revocation)
    Staff decided a revocation under review (revoke, or not a revocation).

revocation_in_step(sender, revocation, in_step)
    Every provider delivery a revocation caused was acknowledged (a RevocationInStep row,
    `revocations.measure`); sent in the worker that settled the last one.

drift_found(sender, drift)
    Reconciliation found a provider holding something the portal does not (a Drift row).

sync_settled(sender, syncs)
    Provider sync rows reached a settled status (succeeded, or local only: nothing more
    can be told); sent by the delivery worker once per committed batch of results.
"""

from django.dispatch import Signal

subscription_changed = Signal()
revocation_received = Signal()
revocation_decided = Signal()
revocation_in_step = Signal()
drift_found = Signal()
sync_settled = Signal()
