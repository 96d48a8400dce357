"""The only code that changes consent state.

Every public function here runs in one transaction, locks the contact row (the lock that
serialises every writer of that number's consent), asks `rules` what to do, writes the
Subscription / ShortCodeStop rows and one SubscriptionEvent per decision, and sends
`subscription_changed` with the applied events before the transaction commits.
"""

import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from subscriptions import rules
from subscriptions.models import (
    Action,
    Contact,
    InboundReceipt,
    Keyword,
    KeywordKind,
    Outcome,
    ShortCode,
    ShortCodeStop,
    Source,
    Status,
    Subscription,
    SubscriptionEvent,
)
from subscriptions.phones import normalize
from subscriptions.selectors import program_by_ref
from subscriptions.signals import subscription_changed


class ServiceError(ValueError):
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

    def __post_init__(self):
        if self.source not in Source.values:
            raise ServiceError(f"Unknown source {self.source!r}.")
        if self.source == Source.ADMIN and not self.reason.strip():
            raise ServiceError("Staff changes need a reason.")
        if self.occurred_at is None:
            self.occurred_at = timezone.now()
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


def get_contact(phone):
    """The contact for a phone number in any accepted format, created when new."""
    contact, _ = Contact.objects.get_or_create(phone=normalize(phone))
    return contact


def set_contact_locale(phone, language):
    """Record `language` (one of LANGUAGES) as the language of the person at `phone`, for
    the texts the portal writes to the number itself. Not consent state: one UPDATE, no
    history, no lock. Only a known contact is updated; choosing a language creates none."""
    if language not in dict(settings.LANGUAGES):
        raise ServiceError(f"Unsupported language {language!r}.")
    Contact.objects.filter(phone=normalize(phone)).exclude(locale=language).update(locale=language)


class _Writer:
    """Collects the rows of one service call and writes them with a constant number of
    queries, whatever the number of programs touched."""

    def __init__(self, ctx: Context):
        self.ctx = ctx
        self.now = timezone.now()
        self.new_subs = []
        self.dirty_subs = {}
        self.events = []

    def event(
        self,
        contact,
        short_code,
        action,
        decision=None,
        *,
        sub=None,
        keyword=None,
        old_status="",
        outcome=None,
        reason="",
    ):
        ctx = self.ctx
        event = SubscriptionEvent(
            contact=contact,
            short_code=short_code,
            keyword=keyword or (sub and sub.keyword),
            subscription=sub,
            action=action,
            old_status=old_status or "",
            new_status=(decision.new_status if decision and decision.applied else "") or "",
            outcome=outcome or (decision.outcome if decision else Outcome.NO_CHANGE),
            reason=(reason or (decision.reason if decision else ""))[:255],
            source=ctx.source,
            actor=ctx.actor,
            actor_label=ctx.actor_label[:150],
            occurred_at=ctx.occurred_at,
            recorded_at=self.now,
            consent_text=ctx.consent_text,
            ip_address=ctx.ip_address,
            user_agent=ctx.user_agent[:500],
            external_id=ctx.external_id[:200],
            raw_payload=ctx.raw_payload,
            detail=ctx.detail,
        )
        self.events.append(event)
        return event

    def apply(self, contact, keyword, sub, decision, action, *, stop=None):
        """Apply a program-level decision to `sub` (None = create) and record it."""
        old_status = sub.status if sub else ""
        if decision.confirms and sub is not None:
            self._advance(sub)
        if decision.applied:
            if sub is None:
                sub = Subscription(
                    contact=contact,
                    keyword=keyword,
                    short_code_id=keyword.short_code_id,
                    created_at=self.now,
                )
                self.new_subs.append(sub)
            elif not sub._state.adding:
                self.dirty_subs[id(sub)] = sub
            sub.status = decision.new_status
            sub.changed_at = self.now
            sub.last_occurred_at = self.ctx.occurred_at
            sub.last_source = self.ctx.source
            sub.opted_out_by_stop = stop
            if decision.new_status == Status.PENDING:
                sub.pending_since = self.now if decision.restarts_window else sub.pending_since
            else:
                sub.pending_since = None
        return self.event(
            contact,
            keyword.short_code,
            action,
            decision,
            sub=sub,
            keyword=keyword,
            old_status=old_status,
        )

    def _advance(self, sub):
        if self.ctx.occurred_at > sub.last_occurred_at:
            sub.last_occurred_at = self.ctx.occurred_at
            if not sub._state.adding:
                self.dirty_subs[id(sub)] = sub

    def flush(self):
        if self.new_subs:
            Subscription.objects.bulk_create(self.new_subs)
        if self.dirty_subs:
            Subscription.objects.bulk_update(
                list(self.dirty_subs.values()),
                [
                    "status",
                    "changed_at",
                    "last_occurred_at",
                    "last_source",
                    "pending_since",
                    "opted_out_by_stop",
                ],
            )
        for event in self.events:
            if event.subscription is not None:
                event.subscription_id = event.subscription.pk
        SubscriptionEvent.objects.bulk_create(self.events)
        applied = [e for e in self.events if e.outcome == Outcome.APPLIED]
        if applied:
            subscription_changed.send(
                sender=SubscriptionEvent, events=applied, source=self.ctx.source
            )
        return Result(events=self.events)


def _claim_receipt(ctx):
    """True the first time (source, external_id) is seen; a repeat only bumps a counter."""
    if not ctx.external_id:
        return True
    try:
        with transaction.atomic():
            InboundReceipt.objects.create(source=ctx.source, external_id=ctx.external_id)
        return True
    except IntegrityError:
        InboundReceipt.objects.filter(source=ctx.source, external_id=ctx.external_id).update(
            repeats=F("repeats") + 1, last_repeat_at=timezone.now()
        )
        return False


def _locked_contact(phone):
    contact = get_contact(phone)
    return Contact.objects.select_for_update().get(pk=contact.pk)


def _active_stop(contact, short_code):
    return (
        ShortCodeStop.objects.select_for_update()
        .filter(contact=contact, short_code=short_code, cleared_at__isnull=True)
        .first()
    )


def _as_of(sub, stop):
    """The time an opt-in must not predate: the subscription's last applied event and the
    newest STOP on the code (consent given before a STOP is revoked by it)."""
    times = [t for t in (sub and sub.last_occurred_at, stop and stop.latest_at) if t]
    return max(times) if times else None


def _clear_stop(stop, now):
    if stop is not None and stop.cleared_at is None:
        stop.cleared_at = now
        stop.save(update_fields=["cleared_at"])


def _subs(contact, **filters):
    # of=("self",): lock only the subscriptions. Without it PostgreSQL also locks the joined
    # keyword and short code rows, serialising every writer on the code behind one lock.
    return list(
        Subscription.objects.select_for_update(of=("self",))
        .filter(contact=contact, **filters)
        .select_related("keyword__short_code")
    )


def _require_program(keyword):
    if keyword.kind != KeywordKind.PROGRAM:
        raise ServiceError(f"{keyword.word} is a {keyword.kind} keyword, not a program.")


@transaction.atomic
def opt_in(phone, keyword: Keyword, ctx: Context) -> Result:
    """Join one program (pending when it needs double opt-in and the source is live)."""
    _require_program(keyword)
    if not _claim_receipt(ctx):
        return Result(duplicate=True)
    contact = _locked_contact(phone)
    short_code = keyword.short_code
    sub = next(iter(_subs(contact, keyword=keyword)), None)
    stop = _active_stop(contact, short_code)
    decision = rules.decide_opt_in(
        sub.status if sub else None,
        source=ctx.source,
        double_opt_in=keyword.double_opt_in,
        stopped=stop is not None,
        stop_blocks_imports=short_code.stop_blocks_imports,
        occurred_at=ctx.occurred_at,
        last_occurred_at=_as_of(sub, stop),
    )
    writer = _Writer(ctx)
    writer.apply(contact, keyword, sub, decision, Action.OPT_IN)
    if decision.clears_stop:
        _clear_stop(stop, writer.now)
    return writer.flush()


@transaction.atomic
def opt_out(phone, keyword: Keyword, ctx: Context) -> Result:
    """Leave one program. Never refused; a row is created even for a number never in it."""
    _require_program(keyword)
    if not _claim_receipt(ctx):
        return Result(duplicate=True)
    contact = _locked_contact(phone)
    sub = next(iter(_subs(contact, keyword=keyword)), None)
    decision = rules.decide_opt_out(
        sub.status if sub else None,
        occurred_at=ctx.occurred_at,
        last_occurred_at=sub.last_occurred_at if sub else None,
    )
    writer = _Writer(ctx)
    writer.apply(contact, keyword, sub, decision, Action.OPT_OUT)
    return writer.flush()


def _opt_out_all(writer, contact, subs, action, stop=None):
    for sub in subs:
        decision = rules.decide_opt_out(
            sub.status, occurred_at=writer.ctx.occurred_at, last_occurred_at=sub.last_occurred_at
        )
        if decision.outcome != Outcome.NO_CHANGE:
            writer.apply(contact, sub.keyword, sub, decision, action, stop=stop)


@transaction.atomic
def stop_all(phone, short_code: ShortCode, ctx: Context) -> Result:
    """STOP: every program on the code opted out, and a ShortCodeStop recorded (also for a
    number with no subscription there, as WhatCounts and CTIA allow)."""
    if not _claim_receipt(ctx):
        return Result(duplicate=True)
    contact = _locked_contact(phone)
    writer = _Writer(ctx)
    stop = _active_stop(contact, short_code)
    if stop is None:
        stop = ShortCodeStop.objects.create(
            contact=contact,
            short_code=short_code,
            created_at=ctx.occurred_at,
            latest_at=ctx.occurred_at,
            source=ctx.source,
        )
        writer.event(contact, short_code, Action.STOP_ALL, outcome=Outcome.APPLIED)
    else:
        if ctx.occurred_at > stop.latest_at:
            stop.latest_at = ctx.occurred_at
            stop.save(update_fields=["latest_at"])
        writer.event(
            contact,
            short_code,
            Action.STOP_ALL,
            outcome=Outcome.NO_CHANGE,
            reason="a STOP is already active on this code",
        )
    _opt_out_all(writer, contact, _subs(contact, short_code=short_code), Action.STOP_ALL, stop=stop)
    return writer.flush()


@transaction.atomic
def custom_stop(phone, stop_keyword: Keyword, ctx: Context) -> Result:
    """A custom stop keyword (e.g. STOP1): every program of that keyword's provider account
    on the code opted out; no code-wide stop."""
    if stop_keyword.kind != KeywordKind.STOP:
        raise ServiceError(f"{stop_keyword.word} is not a stop keyword.")
    if not _claim_receipt(ctx):
        return Result(duplicate=True)
    contact = _locked_contact(phone)
    short_code = stop_keyword.short_code
    account_id = stop_keyword.account_id
    subs = [s for s in _subs(contact, short_code=short_code) if s.keyword.account_id == account_id]
    writer = _Writer(ctx)
    writer.event(
        contact,
        short_code,
        Action.CUSTOM_STOP,
        keyword=stop_keyword,
        outcome=Outcome.APPLIED if subs else Outcome.NO_CHANGE,
    )
    _opt_out_all(writer, contact, subs, Action.CUSTOM_STOP)
    return writer.flush()


def pending_in_window(phone, short_code, now=None):
    """Does this number have a pending subscription on the code still inside the window?"""
    now = now or timezone.now()
    pending = Subscription.objects.filter(
        contact__phone=normalize(phone), short_code=short_code, status=Status.PENDING
    )
    return any(
        rules.in_window(s.pending_since, short_code.double_opt_in_window_hours, now)
        for s in pending.only("pending_since")
    )


@transaction.atomic
def confirm(phone, short_code: ShortCode, ctx: Context) -> Result:
    """The confirmation word: pending subscriptions inside the window become opted in;
    outside it they stay pending and the refusal is recorded."""
    if not _claim_receipt(ctx):
        return Result(duplicate=True)
    contact = _locked_contact(phone)
    writer = _Writer(ctx)
    pending = _subs(contact, short_code=short_code, status=Status.PENDING)
    stop = _active_stop(contact, short_code)
    for sub in pending:
        decision = rules.decide_confirm(
            sub.status,
            pending_since=sub.pending_since,
            window_hours=short_code.double_opt_in_window_hours,
            now=writer.now,
            occurred_at=ctx.occurred_at,
            last_occurred_at=_as_of(sub, stop),
        )
        writer.apply(contact, sub.keyword, sub, decision, Action.CONFIRM)
        if decision.clears_stop:
            _clear_stop(stop, writer.now)
    if not pending:
        writer.event(
            contact,
            short_code,
            Action.CONFIRM,
            outcome=Outcome.NO_CHANGE,
            reason="nothing waiting for confirmation",
        )
    return writer.flush()


@transaction.atomic
def restart(phone, short_code: ShortCode, ctx: Context) -> Result:
    """START / UNSTOP: lift the STOP and bring back exactly the programs it opted out."""
    if not _claim_receipt(ctx):
        return Result(duplicate=True)
    contact = _locked_contact(phone)
    writer = _Writer(ctx)
    last_stop = (
        ShortCodeStop.objects.select_for_update()
        .filter(contact=contact, short_code=short_code)
        .order_by("-id")
        .first()
    )
    if last_stop is not None and rules.is_stale(ctx.occurred_at, last_stop.latest_at):
        writer.event(contact, short_code, Action.RESTART, outcome=Outcome.STALE, reason=rules.STALE)
        return writer.flush()
    was_active = last_stop is not None and last_stop.cleared_at is None
    writer.event(
        contact,
        short_code,
        Action.RESTART,
        outcome=Outcome.APPLIED if was_active else Outcome.NO_CHANGE,
        reason="" if was_active else "no STOP to lift",
    )
    if last_stop is not None:
        _clear_stop(last_stop, writer.now)
        for sub in _subs(contact, short_code=short_code, opted_out_by_stop=last_stop):
            decision = rules.decide_restore(
                sub.status, occurred_at=ctx.occurred_at, last_occurred_at=sub.last_occurred_at
            )
            writer.apply(contact, sub.keyword, sub, decision, Action.RESTART)
    return writer.flush()


@transaction.atomic
def record(
    phone, short_code: ShortCode, action: str, ctx: Context, *, keyword=None, reason=""
) -> Result:
    """Record an inbound message that changes nothing (HELP, unknown words)."""
    if not _claim_receipt(ctx):
        return Result(duplicate=True)
    contact = get_contact(phone)
    writer = _Writer(ctx)
    writer.event(
        contact, short_code, action, keyword=keyword, outcome=Outcome.NO_CHANGE, reason=reason
    )
    return writer.flush()


# Programs learnt from providers ------------------------------------------------------------

# Words a discovered program must never take: they mean something else on every code.
_RESERVED_WORDS = rules.STOP_WORDS | rules.START_WORDS | rules.YES_WORDS | rules.HELP_WORDS
_WORD_BASE_LENGTH = 30  # leaves room for a numeric suffix within Keyword.word's 40


def _discovered_word(short_code, title, provider_ref):
    """An unused keyword word derived from the campaign title: ASCII letters and digits only
    (so it can be texted and never contains a reserved word's spelling by accident)."""
    ascii_title = unicodedata.normalize("NFKD", title).encode("ascii", "ignore").decode()
    base = re.sub(r"[^A-Z0-9]", "", ascii_title.upper())[:_WORD_BASE_LENGTH]
    base = base or re.sub(r"[^A-Z0-9]", "", f"CAMPAIGN{provider_ref.upper()}")[:_WORD_BASE_LENGTH]
    taken = (
        set(
            Keyword.objects.filter(short_code=short_code, word__startswith=base).values_list(
                "word", flat=True
            )
        )
        | _RESERVED_WORDS
    )
    candidates = (base if n == 1 else f"{base}{n}" for n in range(1, len(taken) + 2))
    return next(word for word in candidates if word not in taken)


@transaction.atomic
def discover_program(short_code: ShortCode, account, provider_ref: str, title="") -> Keyword:
    """The program `account` calls `provider_ref` on a code, created the first time a
    provider mentions it (SkyCore postback with an unknown CAMPAIGNREF). Marked discovered
    and kept off the preferences page until staff review it."""
    # Lock the code so two postbacks naming the same new campaign create one keyword.
    ShortCode.objects.select_for_update().get(pk=short_code.pk)
    existing = program_by_ref(short_code, account, provider_ref)
    if existing is not None:
        return existing
    keyword = Keyword.objects.create(
        short_code=short_code,
        kind=KeywordKind.PROGRAM,
        provider=account,
        word=_discovered_word(short_code, title, provider_ref),
        title=title[:120],
        provider_ref=provider_ref,
        discovered=True,
        is_public=False,
    )
    return Keyword.objects.select_related("short_code__provider", "provider").get(pk=keyword.pk)


# Batch form for imports ------------------------------------------------------------------


@dataclass(frozen=True)
class BatchRow:
    """One import row, already parsed: phone in E.164, a program keyword, subscribe or not."""

    phone: str
    keyword: Keyword
    subscribe: bool
    occurred_at: datetime | None = None
    consent_text: str = ""
    line: int = 0


@dataclass
class BatchResult:
    events: list

    def count(self, outcome):
        return sum(1 for e in self.events if e.outcome == outcome)


def _batch_contacts(phones):
    existing = set(Contact.objects.filter(phone__in=phones).values_list("phone", flat=True))
    missing = [Contact(phone=p) for p in phones if p not in existing]
    if missing:
        Contact.objects.bulk_create(missing, ignore_conflicts=True)
    # Locked in id order (rows are locked after the sort) so that two concurrent batches
    # cannot deadlock.
    return {
        c.phone: c
        for c in Contact.objects.select_for_update().filter(phone__in=phones).order_by("id")
    }


class DryRun:
    """What a dry run's earlier chunks would have written, so that a later chunk predicts
    what the real run (which reads it back from the database) would do. One per file; it
    holds one entry per (phone, program) pair the dry run touched."""

    def __init__(self):
        self.subs = {}  # (phone, keyword id) -> (status, last_occurred_at)
        self.lifted_stops = set()  # (phone, short code id)

    def overlay(self, rows, contacts, subs, stops):
        """Put the predicted state of this chunk's pairs over the one read from the database."""
        for row in rows:
            contact, keyword = contacts[row.phone], row.keyword
            if (row.phone, keyword.short_code_id) in self.lifted_stops:
                stops.pop((contact.pk, keyword.short_code_id), None)
            predicted = self.subs.get((row.phone, keyword.pk))
            if predicted is not None:
                sub = subs.setdefault(
                    (contact.pk, keyword.pk),
                    Subscription(
                        contact=contact, keyword=keyword, short_code_id=keyword.short_code_id
                    ),
                )
                sub.status, sub.last_occurred_at = predicted

    def remember(self, rows, contacts, subs, lifted):
        for row in rows:
            sub = subs.get((contacts[row.phone].pk, row.keyword.pk))
            if sub is not None:
                self.subs[(row.phone, row.keyword.pk)] = (sub.status, sub.last_occurred_at)
        self.lifted_stops.update(lifted)


@transaction.atomic
def apply_batch(
    rows: Iterable[BatchRow], ctx: Context, *, dry_run: bool | DryRun = False
) -> BatchResult:
    """Apply import rows (seed 001 rules) with a constant number of queries per batch.

    With dry_run the decisions are computed and returned but nothing is written. A file
    applied in several batches passes the same DryRun to each.
    """
    rows = list(rows)
    if not rows:
        return BatchResult(events=[])
    if dry_run is True:
        dry_run = DryRun()
    contacts = _batch_contacts(sorted({r.phone for r in rows}))
    keyword_ids = {r.keyword.pk for r in rows}
    subs = {
        (s.contact_id, s.keyword_id): s
        for s in Subscription.objects.select_for_update().filter(
            contact__in=contacts.values(), keyword_id__in=keyword_ids
        )
    }
    code_ids = {r.keyword.short_code_id for r in rows}
    stops = {
        (s.contact_id, s.short_code_id): s
        for s in ShortCodeStop.objects.select_for_update().filter(
            contact__in=contacts.values(), short_code_id__in=code_ids, cleared_at__isnull=True
        )
    }
    if dry_run:
        dry_run.overlay(rows, contacts, subs, stops)
    writer = _Writer(ctx)
    lifted = {}
    for row in rows:
        contact = contacts[row.phone]
        key = (contact.pk, row.keyword.pk)
        sub = subs.get(key)
        writer.ctx = _row_context(ctx, row)
        current = sub.status if sub else None
        stop_key = (contact.pk, row.keyword.short_code_id)
        if row.subscribe:
            stop = stops.get(stop_key)
            decision = rules.decide_opt_in(
                current,
                source=ctx.source,
                double_opt_in=row.keyword.double_opt_in,
                stopped=stop is not None,
                stop_blocks_imports=row.keyword.short_code.stop_blocks_imports,
                occurred_at=writer.ctx.occurred_at,
                last_occurred_at=_as_of(sub, stop),
            )
            action = Action.OPT_IN
        else:
            decision = rules.decide_opt_out(
                current, occurred_at=writer.ctx.occurred_at, last_occurred_at=_as_of(sub, None)
            )
            action = Action.OPT_OUT
        event = writer.apply(contact, row.keyword, sub, decision, action)
        subs[key] = event.subscription
        if decision.clears_stop and stop_key in stops:
            lifted[(row.phone, row.keyword.short_code_id)] = stops.pop(stop_key).pk
    writer.ctx = ctx
    if dry_run:
        dry_run.remember(rows, contacts, subs, lifted)
        transaction.set_rollback(True)
        return BatchResult(events=writer.events)
    if lifted:
        ShortCodeStop.objects.filter(pk__in=lifted.values()).update(cleared_at=writer.now)
    return BatchResult(events=writer.flush().events)


def _row_context(ctx, row):
    return Context(
        source=ctx.source,
        occurred_at=row.occurred_at or ctx.occurred_at,
        actor=ctx.actor,
        actor_label=ctx.actor_label,
        consent_text=row.consent_text or ctx.consent_text,
        detail={**ctx.detail, "line": row.line} if row.line else ctx.detail,
    )
