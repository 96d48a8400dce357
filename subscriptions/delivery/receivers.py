"""Receivers of the published signals. Nothing else is hidden here.

Provider sync: every applied consent change becomes ProviderSync rows (the outbox) in the
same transaction, and their delivery is enqueued on commit (delivery/plan.py).

No echo: an inbound handler that applies a change a provider reported or already applied
(a SkyCore postback; a handset's stop word, which the provider running the code honours
before forwarding the text) sets `Context.origin_account_id` to the account it came from
(kept in the history row; `SubscriptionEvent.origin_account_id` reads it back). Such a
change is not sent back to that account: its sync row is written as succeeded ("echo") so
that later deliveries know the provider's state; other accounts on the code still get it.
A handset's text is still sent back when a delivery to the same target happened after the
text reached the provider (plan.plan).
"""

from django.dispatch import receiver

from subscriptions.consent.signals import subscription_changed
from subscriptions.delivery import plan


@receiver(subscription_changed, dispatch_uid="provider_sync")
def write_provider_syncs(sender, events, source, outbox_written=False, new_contact=False, **kw):
    # A set-based import (imports/setbased.py) writes its outbox rows set-wise itself.
    if not outbox_written:
        plan.plan(events, new_contact=new_contact)
