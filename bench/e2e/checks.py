"""The fault run's invariants, checked from the portal's final snapshot (portal_side.py),
the clients' ledger and what the fake providers recorded. Each check returns a list of
violations (human-readable lines); an empty list everywhere is a pass."""

from collections import defaultdict
from datetime import datetime

from bench.e2e.portal_side import PROGRAMS

OPT_OUT_ACTIONS = {"opt_out", "stop_all", "custom_stop"}
CLOCK_SLACK_S = 1.0  # between the client's and the portal's reading of the same clock
DB_RECOVERY_GRACE_S = 2.0  # after the database answers again, connections are re-made
LISTED = 5  # violations listed per check; the rest are counted


def _when(text):
    return datetime.fromisoformat(text)


def applied_by_subscription(snapshot):
    """{subscription id: [applied events in the order they were applied]}: ids are taken
    while the subscription's row is locked, so id order is application order."""
    applied = defaultdict(list)
    for event in snapshot["events"]:
        if event["outcome"] == "applied" and event["subscription"]:
            applied[event["subscription"]].append(event)
    return applied


def state_is_newest_event(snapshot):
    """Each subscription holds what its last applied event set. "Last" is application
    order (the id, taken under the row lock), not occurred_at: an opt-out from a live
    source is never stale (consent/rules/decisions.py decide_opt_out), so a person's STOP
    that carries an earlier time than a postback stamped ahead of the portal's clock is
    still applied after it, and wins."""
    applied, problems = applied_by_subscription(snapshot), []
    for sub in snapshot["subscriptions"]:
        events = applied.get(sub["id"])
        if not events:
            problems.append(f"subscription {sub} has no applied event")
            continue
        newest = max(events, key=lambda e: e["id"])
        if newest["new"] != sub["status"]:
            problems.append(
                f"{sub['phone']} {sub['word']}: status {sub['status']} but the "
                f"newest event #{newest['id']} says {newest['new']}"
            )
    return problems


def no_duplicate_applied_events(snapshot):
    """Every applied event changes the state it found (no repeat of the previous change),
    and one inbound message (external id) is applied at most once per subscription."""
    problems, seen = [], set()
    for events in applied_by_subscription(snapshot).values():
        previous = ""
        for event in events:
            if event["old"] != previous or event["old"] == event["new"]:
                problems.append(
                    f"event #{event['id']} ({event['phone']} {event['word']}): "
                    f"{event['old']!r} -> {event['new']!r} after {previous!r}"
                )
            previous = event["new"]
            key = (event["source"], event["external_id"], event["subscription"])
            if event["external_id"] and key in seen:
                problems.append(f"event #{event['id']}: {key} applied twice")
            seen.add(key)
    return problems


def _records(opt_out, event):
    if event["phone"] != opt_out.phone or event["code"] != opt_out.code:
        return False
    if event["source"] != opt_out.source or event["action"] not in OPT_OUT_ACTIONS:
        return False
    if opt_out.external_id:
        return event["external_id"] == opt_out.external_id
    if opt_out.occurred_at is not None:
        return event["word"] == opt_out.word and _when(event["occurred_at"]) == opt_out.occurred_at
    recorded = _when(event["recorded_at"]).timestamp()
    return (
        event["word"] == opt_out.word
        and opt_out.sent - CLOCK_SLACK_S <= recorded <= opt_out.answered + CLOCK_SLACK_S
    )


def unrecorded_opt_outs(snapshot, ledger):
    by_phone = defaultdict(list)
    for event in snapshot["events"]:
        by_phone[event["phone"]].append(event)
    return [
        f"acknowledged {o.source} opt-out of {o.phone} on {o.code} is not in the history"
        for o in ledger.opt_outs
        if not any(_records(o, e) for e in by_phone[o.phone])
    ]


def _subscribed_at(fakes, sub):
    digits = sub["phone"].lstrip("+")
    if sub["code"] == PROGRAMS["sfmc"]["code"]:
        return fakes["sfmc"].state.get((digits, sub["word"]), False)
    if sub["code"] == PROGRAMS["whatcounts"]["code"]:
        return (digits, sub["code"]) in fakes["whatcounts"].state
    return fakes["skycore"].state.get((digits, PROGRAMS["skycore"]["ref"]), False)


def provider_state_mismatches(snapshot, fakes):
    """The provider is in the portal's final state for every subscription: every opt-out
    (and opt-in) reached it, or, for postbacks, the portal follows the provider."""
    return [
        f"{sub['phone']} {sub['word']}: portal {sub['status']}, provider "
        f"{'subscribed' if not wanted else 'not subscribed'}"
        for sub in snapshot["subscriptions"]
        if (wanted := sub["status"] == "opted_in") != _subscribed_at(fakes, sub)
    ]


def undelivered(snapshot):
    syncs, messages = snapshot["syncs"], snapshot["messages"]
    stuck = {f"syncs {s}": syncs.get(s, 0) for s in ("pending", "sending", "failed")}
    stuck.update({f"texts {s}": messages.get(s, 0) for s in ("queued", "failed")})
    counted = [f"{n} {what} after the drain" for what, n in stuck.items() if n]
    return counted + ([f"  {row}" for row in snapshot["stuck"]] if counted else [])


def postbacks_echoed(fakes, postback_phones):
    """A change SkyCore reported must never be sent back to SkyCore."""
    digits = {phone.lstrip("+") for phone in postback_phones}
    return [
        f"SkyCore was sent {call} for a number only postbacks changed"
        for call in fakes["skycore"].calls()
        if call[2] in digits
    ]


def postback_final_states(snapshot, plan):
    status = {
        s["phone"]: s["status"]
        for s in snapshot["subscriptions"]
        if s["code"] == PROGRAMS["skycore"]["code"] and s["phone"] in plan.final
    }
    return [
        f"{phone}: newest postback says {'in' if subscribed else 'out'}, portal {status.get(phone)}"
        for phone, subscribed in plan.final.items()
        if status.get(phone) != ("opted_in" if subscribed else "opted_out")
    ]


def bad_answers(ledger, fault_log):
    """No 5xx and no unanswered request except while the database was down; no 4xx for
    the valid requests the clients send, except 409 (refused or stale opt-in)."""
    db_windows = [w for w in fault_log.windows if w.name == "database down"]
    problems = []
    for attempt in ledger.attempts:
        if attempt.status is None or attempt.status >= 500:
            if not any(
                w.overlaps(attempt.started, attempt.ended, DB_RECOVERY_GRACE_S) for w in db_windows
            ):
                problems.append(
                    f"{attempt.kind} answered {attempt.status or attempt.error} "
                    f"outside the database outage"
                )
        elif attempt.status >= 400 and not (attempt.kind == "api_opt_in" and attempt.status == 409):
            problems.append(f"{attempt.kind} refused with {attempt.status}")
    return problems


def evaluate(snapshot, ledger, fakes, fault_log, plan):
    """{check name: violations}; `lost` counts the consent changes that did not make it."""
    return {
        "state equals newest event": state_is_newest_event(snapshot),
        "no duplicate applied events": no_duplicate_applied_events(snapshot),
        "every acknowledged opt-out recorded": unrecorded_opt_outs(snapshot, ledger),
        "providers in the portal's final state": provider_state_mismatches(snapshot, fakes),
        "outbox drained": undelivered(snapshot),
        "postbacks applied by their own time": postback_final_states(snapshot, plan),
        "postbacks not echoed to SkyCore": postbacks_echoed(fakes, plan.final),
        "no 5xx outside the database outage": bad_answers(ledger, fault_log),
    }


LOSS_CHECKS = (
    "every acknowledged opt-out recorded",
    "providers in the portal's final state",
    "outbox drained",
    "postbacks applied by their own time",
)


def lost(results, snapshot):
    """Changes lost: unrecorded opt-outs, provider mismatches, undelivered rows."""
    stuck = sum(snapshot["syncs"].get(s, 0) for s in ("pending", "sending", "failed"))
    stuck += sum(snapshot["messages"].get(s, 0) for s in ("queued", "failed"))
    listed = sum(len(results[name]) for name in LOSS_CHECKS if name != "outbox drained")
    return listed + stuck
