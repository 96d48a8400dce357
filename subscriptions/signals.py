"""Published signals: the extension points of the consent core.

subscription_changed(sender, events, source)
    Sent by services inside the transaction that wrote `events` (a list of applied
    SubscriptionEvent rows, program-level and code-wide), once per service call, so a
    receiver can batch its work. Receivers that talk to the outside world must only write
    rows here and act in `transaction.on_commit`.
"""

from django.dispatch import Signal

subscription_changed = Signal()
