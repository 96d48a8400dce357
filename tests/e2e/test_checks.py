"""The fault run's invariant on final state, on hand-made snapshots (no database)."""

from bench.e2e.checks import state_is_newest_event


def snapshot(status, *events):
    """One subscription and its applied events: (id, occurred_at, new status)."""
    return {
        "subscriptions": [{"id": 1, "phone": "+16509900000", "word": "NEWS", "status": status}],
        "events": [
            {"id": i, "occurred_at": at, "new": new, "outcome": "applied", "subscription": 1}
            for i, at, new in events
        ],
    }


def test_a_live_stop_applied_after_a_postback_stamped_ahead_is_the_state():
    # The postback carries a time ahead of the portal's clock; the person's STOP of "now"
    # is never stale, so it is applied after it (a higher id) and is what stands.
    data = snapshot(
        "opted_out",
        (1, "2026-12-02T10:00:05+00:00", "opted_in"),
        (2, "2026-12-02T10:00:01+00:00", "opted_out"),
    )
    assert state_is_newest_event(data) == []


def test_a_state_other_than_the_last_applied_event_is_reported():
    data = snapshot(
        "opted_in",
        (1, "2026-12-02T10:00:00+00:00", "opted_in"),
        (2, "2026-12-02T10:00:01+00:00", "opted_out"),
    )
    assert state_is_newest_event(data) == [
        "+16509900000 NEWS: status opted_in but the newest event #2 says opted_out"
    ]
