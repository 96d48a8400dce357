"""What every consent service takes and returns: the evidence of a request (Context) and
the history rows it wrote (Result)."""

from dataclasses import dataclass, field
from datetime import datetime

from django.utils import timezone

from subscriptions.common.errors import PortalError
from subscriptions.models import (
    Outcome,
    Source,
)
from subscriptions.models.consent import ORIGIN_DETAIL_KEY


class ServiceError(PortalError, ValueError):
    """A request the rules cannot even consider (wrong keyword kind, missing reason)."""


@dataclass
class Context:
    """Who asked, how, and the evidence that goes into every history row."""

    source: str
    occurred_at: datetime | None = None
    actor: object | None = None
    actor_label: str = ""
    consent_text: str = ""
    ip_address: str | None = None
    user_agent: str = ""
    external_id: str = ""
    raw_payload: str = ""
    reason: str = ""
    detail: dict = field(default_factory=dict)
    # The provider account the change came from (a handset text it applied itself, its
    # postback): the change is never sent back to it (docs/architecture.md, "No echo";
    # delivery/state.py).
    origin_account_id: int | None = None

    def __post_init__(self):
        if self.source not in Source.values:
            raise ServiceError(f"Unknown source {self.source!r}.")
        if self.source == Source.ADMIN and not self.reason.strip():
            raise ServiceError("Staff changes need a reason.")
        if self.occurred_at is None:
            self.occurred_at = timezone.now()
        if self.origin_account_id is not None:
            self.detail = {**self.detail, ORIGIN_DETAIL_KEY: self.origin_account_id}
        if self.actor is not None and not self.actor_label:
            self.actor_label = getattr(self.actor, "get_username", lambda: str(self.actor))()


@dataclass
class Result:
    events: list = field(default_factory=list)
    duplicate: bool = False

    @property
    def applied(self):
        return [e for e in self.events if e.outcome == Outcome.APPLIED]

    @property
    def changed(self):
        """Applied changes of a program subscription (not the code-wide records)."""
        return [e for e in self.applied if e.subscription_id]

    @property
    def outcome(self):
        """The headline outcome: applied if anything applied, else the first event's."""
        if self.applied:
            return Outcome.APPLIED
        return self.events[0].outcome if self.events else Outcome.NO_CHANGE
