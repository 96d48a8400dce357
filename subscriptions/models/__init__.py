"""The consent data and the invariants the database itself keeps true.

One module per concern; every model is re-exported here so that `subscriptions.models.X`
keeps working for migrations, settings and callers.
"""

from subscriptions.models.catalog import Keyword, ProviderAccount, ShortCode, _new_token  # noqa: F401 (migration 0001)
from subscriptions.models.choices import (
    Action,
    ActivitySeries,
    ImportStatus,
    KeywordKind,
    MessagePurpose,
    MessageStatus,
    Outcome,
    PostbackProblem,
    ProviderKind,
    Source,
    Status,
    SyncStatus,
)
from subscriptions.models.consent import (
    AppendOnlyQuerySet,
    Contact,
    InboundReceipt,
    ShortCodeStop,
    Subscription,
    SubscriptionEvent,
)
from subscriptions.models.operations import (
    ActivityDay,
    DailyActivity,
    IdempotencyKey,
    ImportJob,
    ImportRowError,
    RateLimitCounter,
    UnmatchedPostback,
)
from subscriptions.models.outbox import OutboundMessage, ProviderCall, ProviderSync
from subscriptions.models.reconciliation import (
    Drift,
    DriftAction,
    Held,
    Reconciliation,
    ReconciliationBatch,
    RunStatus,
)
from subscriptions.models.revocations import (
    Confirmation,
    Revocation,
    RevocationChannel,
    RevocationDecision,
    RevocationDecisionKind,
    RevocationInStep,
    RevocationStatus,
    RevocationVerdict,
)
from subscriptions.models.webhooks import (
    DeliveryStatus,
    EventType,
    WebhookDelivery,
    WebhookEndpoint,
    WebhookEvent,
)

__all__ = [
    "Action",
    "ActivityDay",
    "ActivitySeries",
    "AppendOnlyQuerySet",
    "Confirmation",
    "Contact",
    "DailyActivity",
    "DeliveryStatus",
    "Drift",
    "DriftAction",
    "EventType",
    "Held",
    "IdempotencyKey",
    "ImportJob",
    "ImportRowError",
    "ImportStatus",
    "InboundReceipt",
    "Keyword",
    "KeywordKind",
    "MessagePurpose",
    "MessageStatus",
    "OutboundMessage",
    "Outcome",
    "PostbackProblem",
    "ProviderAccount",
    "ProviderCall",
    "ProviderKind",
    "ProviderSync",
    "RateLimitCounter",
    "Reconciliation",
    "ReconciliationBatch",
    "Revocation",
    "RevocationChannel",
    "RevocationDecision",
    "RevocationDecisionKind",
    "RevocationInStep",
    "RevocationStatus",
    "RevocationVerdict",
    "RunStatus",
    "ShortCode",
    "ShortCodeStop",
    "Source",
    "Status",
    "Subscription",
    "SubscriptionEvent",
    "SyncStatus",
    "UnmatchedPostback",
    "WebhookDelivery",
    "WebhookEndpoint",
    "WebhookEvent",
]
