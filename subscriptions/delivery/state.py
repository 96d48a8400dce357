"""What a provider is known to hold for a target (contact, short code, account): versioned
states, each program in, out or unknown, and the rules for echoes of handset texts."""

import json
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db import connection
from django.db.models import Max, Q

from subscriptions.consent import catalog
from subscriptions.models import (
    Action,
    Contact,
    KeywordKind,
    ProviderSync,
    ShortCodeStop,
    Source,
    Status,
    Subscription,
    SyncStatus,
)

# Sources whose opt-outs come in bulk: for a number the provider was never told about they
# must not text the person (docs: "Unknown is not empty").
BULK_SOURCES = frozenset({Source.IMPORT})

logger = logging.getLogger("subscriptions.delivery")


# How long before the portal saw a handset's text the provider may have applied it
# (forwarding delays and retries, clocks).
HANDSET_FORWARD_SLACK = timedelta(minutes=5)


def came_from(account_id, events):
    return all(e.origin_account_id == account_id for e in events)


def handset_time(event):
    """When a handset's text reached the provider: its received_at when the forwarder said,
    else when the portal recorded it."""
    received = event.detail.get("received_at")
    return datetime.fromisoformat(received) if received else event.recorded_at


@dataclass(frozen=True, slots=True)
class TargetFacts:
    """What planning needs to know of a target's earlier rows, read in one query."""

    known: dict  # {program keyword id: True / False / None}: the provider's last known state
    version: int  # the target's latest state_version, 0 when it has none
    changed_since: bool  # a delivery may have changed the provider since the handset's text


NO_FACTS = TargetFacts(known={}, version=0, changed_since=False)  # a target without rows


def handset_since(events):
    """How far back a delivery may have overtaken a handset's text among `events` (None:
    none of them is a handset's text)."""
    texts = [e for e in events if e.source == Source.MO]
    if not texts:
        return None
    return min(handset_time(e) for e in texts) - HANDSET_FORWARD_SLACK


_FACTS_SQL = """
SELECT
  (SELECT {version} FROM {table} WHERE {target} AND {version} IS NOT NULL
   ORDER BY {version} DESC LIMIT 1),
  (SELECT {state} FROM {table} WHERE {target} AND {version} IS NOT NULL
   ORDER BY {version} DESC LIMIT 1),
  {changed}
"""
_CHANGED_SQL = """EXISTS (SELECT 1 FROM {table} WHERE {target} AND {operation} <> 'echo'
  AND {status} <> %s AND ({status} = %s OR ({attempts} > 0 AND {updated} >= %s)))"""


def target_facts(row, since=None) -> TargetFacts:
    """The target's last known provider state, its latest version and (with `since`, from
    `handset_since`) whether a delivery to it may have changed the provider after the
    handset's text: one still in flight, or any attempt since, failed ones included (a
    timed-out request may still have been applied); echoes and local-only rows never reach
    the provider. The target's rows are read once, as three subqueries of one SELECT,
    written in SQL: the ORM spends longer building this query than the database running it.
    A handset text the provider applied before it reached the portal, overtaken by such a
    delivery, leaves the provider's state unknown: the portal's is sent after all."""
    quote = connection.ops.quote_name
    names = {
        name: quote(name)
        for name in ("state_version", "state", "operation", "status", "attempts", "updated_at")
    }
    target = " AND ".join(
        f"{quote(column)} = %s" for column in ("contact_id", "short_code_id", "provider_id")
    )
    ids = [row.contact_id, row.short_code_id, row.provider_id]
    table = quote(ProviderSync._meta.db_table)
    changed, changed_params = "0", []
    if since is not None:
        changed = _CHANGED_SQL.format(
            table=table,
            target=target,
            operation=names["operation"],
            status=names["status"],
            attempts=names["attempts"],
            updated=names["updated_at"],
        )
        changed_params = [
            *ids,
            SyncStatus.LOCAL_ONLY,
            SyncStatus.SENDING,
            connection.ops.adapt_datetimefield_value(since),
        ]
    sql = _FACTS_SQL.format(
        table=table,
        target=target,
        version=names["state_version"],
        state=names["state"],
        changed=changed,
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [*ids, *ids, *changed_params])
        version, state, changed = cursor.fetchone()
    if isinstance(state, str):  # jsonb and SQLite's JSON both arrive as text here
        state = json.loads(state)
    known = {int(pk): value for pk, value in (state or {}).items()}
    return TargetFacts(known=known, version=version or 0, changed_since=bool(changed))


def provider_now(row, events):
    """{program keyword id: opted in?} at the provider after it applied these changes
    itself. A stop it ran ended every program of the account on the code, also those the
    portal had already opted out (their own delivery may still be waiting)."""
    if any(e.action in (Action.STOP_ALL, Action.CUSTOM_STOP) for e in events):
        return dict.fromkeys(catalog.program_ids_of(row.short_code_id, row.provider_id), False)
    return {
        e.keyword_id: e.new_status == Status.OPTED_IN
        for e in events
        if e.keyword_id and e.keyword.kind == KeywordKind.PROGRAM
    }


def mark_echo(row, events, facts: TargetFacts | None = None):
    """The provider itself reported these changes: nothing to send back, but remember that
    the provider is now in that state, so that a later change is compared with it."""
    facts = facts or target_facts(row)
    known = {**facts.known, **provider_now(row, events)}
    row.status = SyncStatus.SUCCEEDED
    row.operation = "echo"
    row.state, row.state_version = to_json(known), facts.version + 1
    row.detail = "came from this provider account; not sent back"


def mark_unknown(row, events, facts: TargetFacts | None = None):
    """A pending row that also records the changed programs' provider state as unknown, so
    that this delivery, or any later one that supersedes it, sends the portal's state for
    them whichever way it is."""
    facts = facts or target_facts(row)
    known = {**facts.known, **dict.fromkeys(provider_now(row, events), None)}
    row.state, row.state_version = to_json(known), facts.version + 1
    row.detail = "the provider applied the handset's text around a delivery of ours: resent"


def known_state(contact_id, code_id, account_id):
    """The provider-side state last delivered (or reported) for a target. By version, not
    by row: an older row delivered late knows more than a newer echo written before it."""
    last = (
        ProviderSync.objects.filter(
            contact_id=contact_id,
            short_code_id=code_id,
            provider_id=account_id,
            state_version__isnull=False,
        )
        .order_by("-state_version")
        .values_list("state", flat=True)
        .first()
    )
    return {int(pk): value for pk, value in (last or {}).items()}


def decided_out(row, keywords, known):
    """(decided, quiet) program ids of the row's account on its code: `decided` those the
    portal holds out by a decision (an opted-out subscription, or an active STOP on the
    code), whose opt-out is owed to a provider that may hold them; `quiet` those of them
    the provider was never told about whose deciding source is a bulk one (an import)."""
    stop_source = (
        ShortCodeStop.objects.filter(
            contact_id=row.contact_id, short_code_id=row.short_code_id, cleared_at__isnull=True
        )
        .values_list("source", flat=True)
        .first()
    )
    subs = {
        pk: (status, source)
        for pk, status, source in Subscription.objects.filter(
            contact_id=row.contact_id, keyword_id__in=list(keywords)
        ).values_list("keyword_id", "status", "last_source")
    }
    return decided_from(keywords, known, subs, stop_source)


def decided_from(keywords, known, subs, stop_source):
    """`decided_out` from what was read: `subs` {keyword id: (status, last source)} of the
    contact's subscriptions, `stop_source` the source of its active stop on the code (None:
    no stop)."""
    decided, quiet = set(), set()
    for pk in keywords:
        status, source = subs.get(pk, (None, None))
        if status == Status.OPTED_OUT:
            decided.add(pk)
        elif stop_source is not None and status is None:
            decided.add(pk)
            source = stop_source
        else:
            continue
        if pk not in known and source in BULK_SOURCES:
            quiet.add(pk)
    return frozenset(decided), frozenset(quiet)


def next_version(row):
    """The next state version of the row's target. Callers hold the contact's row lock (the
    consent services, claims and results all take it), so max + 1 cannot collide."""
    latest = target_of(row).aggregate(latest=Max("state_version"))["latest"]
    return (latest or 0) + 1


def lock_contact(contact_id):
    list(
        Contact.objects.select_for_update(of=("self",))
        .filter(pk=contact_id)
        .values_list("pk", flat=True)
    )


def to_json(state):
    return {str(pk): value for pk, value in sorted(state.items())}


def account_filter(account_id):
    """Keywords owned by an account: its own, or the code's when the code is its."""
    return Q(provider_id=account_id) | Q(provider__isnull=True, short_code__provider_id=account_id)


def target_of(row):
    return ProviderSync.objects.filter(
        contact_id=row.contact_id, short_code_id=row.short_code_id, provider_id=row.provider_id
    )
