"""The read side of revocations: current status (read from the append-only rows, never
stored), the review queue (open and overdue first), and the dashboard's numbers."""

from dataclasses import dataclass
from datetime import datetime, timedelta
from statistics import median

from django.db.models import Case, F, IntegerField, Q, QuerySet, Value, When
from django.db.models.functions import Coalesce
from django.utils import timezone

from subscriptions.common.phones import normalize
from subscriptions.models import (
    Revocation,
    RevocationDecisionKind,
    RevocationInStep,
    RevocationStatus,
    RevocationVerdict,
)

OPEN = Q(verdict=RevocationVerdict.REVIEW, decision__isnull=True)
DISMISSED = Q(decision__decision=RevocationDecisionKind.NOT_A_REVOCATION)


def annotated() -> QuerySet:
    """Revocations with `current_status` and `effective_applied_at` (a revoke decision's
    time for those decided), the decision and scope loaded."""
    return (
        Revocation.objects.select_related("contact", "decision", "recorded_by", "in_step")
        .prefetch_related("short_codes", "keywords")
        .annotate(
            current_status=Case(
                When(OPEN, then=Value(RevocationStatus.OPEN)),
                When(DISMISSED, then=Value(RevocationStatus.DISMISSED)),
                default=Value(RevocationStatus.APPLIED),
            ),
            effective_applied_at=Coalesce(
                F("applied_at"),
                Case(
                    When(
                        decision__decision=RevocationDecisionKind.REVOKE,
                        then=F("decision__decided_at"),
                    )
                ),
            ),
        )
    )


def revocations(
    *, status: str | None = None, overdue: bool = False, phone: str | None = None, now=None
) -> QuerySet:
    """Filtered revocations (the API list); order is the caller's (cursor by id)."""
    rows = annotated()
    if status:
        rows = rows.filter(current_status=status)
    if overdue:
        rows = rows.filter(OPEN, due_by__lt=now or timezone.now())
    if phone:
        rows = rows.filter(contact__phone=normalize(phone))
    return rows


QUEUE_ORDER = ("queue_rank", "due_by", "-received_at", "-id")


def queue(now: datetime | None = None) -> QuerySet:
    """The staff queue: open ones first (overdue first, then by due_by), then the rest;
    `queue_rank` (0 overdue, 1 open, 2 done) is annotated so the admin can order by it."""
    now = now or timezone.now()
    return (
        annotated()
        .annotate(
            queue_rank=Case(
                When(OPEN & Q(due_by__lt=now), then=Value(0)),
                When(OPEN, then=Value(1)),
                default=Value(2),
                output_field=IntegerField(),
            )
        )
        .order_by(*QUEUE_ORDER)
    )


def is_open(revocation: Revocation) -> bool:
    return revocation.verdict == RevocationVerdict.REVIEW and not has_decision(revocation)


def is_overdue(revocation: Revocation, now: datetime | None = None) -> bool:
    return is_open(revocation) and revocation.due_by < (now or timezone.now())


def has_decision(revocation: Revocation) -> bool:
    try:
        return revocation.decision is not None
    except Revocation.decision.RelatedObjectDoesNotExist:
        return False


def status_of(revocation: Revocation) -> str:
    if not has_decision(revocation):
        if revocation.verdict == RevocationVerdict.REVIEW:
            return RevocationStatus.OPEN
        return RevocationStatus.APPLIED
    if revocation.decision.decision == RevocationDecisionKind.REVOKE:
        return RevocationStatus.APPLIED
    return RevocationStatus.DISMISSED


def in_step_at_of(revocation: Revocation) -> datetime | None:
    """When every provider delivery it caused was acknowledged; None while not yet."""
    try:
        return revocation.in_step.in_step_at
    except Revocation.in_step.RelatedObjectDoesNotExist:
        return None


def applied_at_of(revocation: Revocation) -> datetime | None:
    if revocation.applied_at:
        return revocation.applied_at
    if status_of(revocation) == RevocationStatus.APPLIED:
        return revocation.decision.decided_at
    return None


@dataclass(frozen=True)
class DashboardNumbers:
    due: int  # open, waiting for staff
    overdue: int  # open past due_by
    median_seconds_to_apply: float | None  # received_at -> applied_at, last 30 days
    applied_last_30_days: int
    median_seconds_to_in_step: float | None = None  # received_at -> every provider in step
    in_step_last_30_days: int = 0
    waiting_for_providers: int = 0  # applied in the last 30 days, not yet in step


def dashboard_numbers(now: datetime | None = None, days: int = 30) -> DashboardNumbers:
    """Revocations due, overdue, the median time to apply and the median time to every
    provider in step (for the dashboard)."""
    now = now or timezone.now()
    # The open ones and the recently applied ones, in one query (the review queue and a
    # month of revocations: few rows).
    since = now - timedelta(days=days)
    recent = Q(received_at__gte=since, effective_applied_at__isnull=False)
    rows = (
        annotated()
        .filter(OPEN | recent)
        .values_list("current_status", "due_by", "received_at", "effective_applied_at")
    )
    due = overdue = 0
    waits = []
    for status, due_by, received, applied in rows:
        if status == RevocationStatus.OPEN:
            due += 1
            overdue += due_by < now
        if applied is not None and received >= since:
            waits.append(max(0.0, (applied - received).total_seconds()))
    in_step = list(
        RevocationInStep.objects.filter(revocation__received_at__gte=since).values_list(
            "revocation__received_at", "in_step_at"
        )
    )
    steps = [max(0.0, (at - received).total_seconds()) for received, at in in_step]
    return DashboardNumbers(
        due=due,
        overdue=overdue,
        median_seconds_to_apply=median(waits) if waits else None,
        applied_last_30_days=len(waits),
        median_seconds_to_in_step=median(steps) if steps else None,
        in_step_last_30_days=len(steps),
        waiting_for_providers=max(0, len(waits) - len(steps)),
    )
