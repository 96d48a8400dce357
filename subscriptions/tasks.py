"""Re-export shim, for one release: task rows queued by the first release name their task
as `subscriptions.tasks.<name>`; a worker resolves that path through this module. New code
imports each package's own `tasks` module (delivery, imports, preferences)."""

from subscriptions.common.queueing import traced_enqueue, traced_enqueue_each
from subscriptions.delivery.tasks import deliver_message, deliver_sync
from subscriptions.imports.tasks import run_import
from subscriptions.preferences.tasks import send_preferences_code

__all__ = [
    "deliver_message",
    "deliver_sync",
    "run_import",
    "send_preferences_code",
    "traced_enqueue",
    "traced_enqueue_each",
]
