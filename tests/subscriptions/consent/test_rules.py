"""docs/rules.md, cell by cell."""

from datetime import UTC, datetime, timedelta

import pytest

from subscriptions.consent import rules
from subscriptions.models import KeywordKind, Outcome, Source, Status

NONE, OUT, PENDING, IN = None, Status.OPTED_OUT, Status.PENDING, Status.OPTED_IN
STATES = [NONE, OUT, PENDING, IN]
LIVE_SOURCES = [Source.MO, Source.WEB, Source.API, Source.ADMIN]
T0 = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)


# Program keyword opt-in ---------------------------------------------------------------------


@pytest.mark.parametrize("source", LIVE_SOURCES)
@pytest.mark.parametrize(
    ("current", "double", "expected"),
    [
        (NONE, False, (Outcome.APPLIED, IN)),
        (NONE, True, (Outcome.APPLIED, PENDING)),
        (OUT, False, (Outcome.APPLIED, IN)),
        (OUT, True, (Outcome.APPLIED, PENDING)),
        (PENDING, False, (Outcome.APPLIED, IN)),
        (PENDING, True, (Outcome.APPLIED, PENDING)),
        (IN, False, (Outcome.NO_CHANGE, None)),
        (IN, True, (Outcome.NO_CHANGE, None)),
    ],
)
def test_live_opt_in_follows_double_opt_in_from_any_state(source, current, double, expected):
    decision = rules.decide_opt_in(current, source=source, double_opt_in=double)
    assert (decision.outcome, decision.new_status) == expected


def test_pending_again_restarts_the_window():
    decision = rules.decide_opt_in(PENDING, source=Source.MO, double_opt_in=True)
    assert decision.restarts_window


@pytest.mark.parametrize(
    ("current", "expected"),
    [
        (NONE, (Outcome.APPLIED, IN, "")),
        (OUT, (Outcome.REFUSED, None, rules.IMPORT_OPTED_OUT)),
        (PENDING, (Outcome.NO_CHANGE, None, rules.IMPORT_CANNOT_CONFIRM)),
        (IN, (Outcome.NO_CHANGE, None, rules.ALREADY_IN)),
    ],
)
@pytest.mark.parametrize("double", [False, True])
def test_import_opt_in(current, expected, double):
    decision = rules.decide_opt_in(current, source=Source.IMPORT, double_opt_in=double)
    assert (decision.outcome, decision.new_status, decision.reason) == expected


@pytest.mark.parametrize(
    ("stop_blocks", "expected"),
    [
        (False, (Outcome.APPLIED, IN)),  # seed 001: NEWKEYWORD after STOP is opted in
        (True, (Outcome.REFUSED, None)),
    ],
)
def test_import_to_a_new_keyword_after_stop_depends_on_the_policy(stop_blocks, expected):
    decision = rules.decide_opt_in(
        NONE,
        source=Source.IMPORT,
        double_opt_in=False,
        stopped=True,
        stop_blocks_imports=stop_blocks,
    )
    assert (decision.outcome, decision.new_status) == expected
    if stop_blocks:
        assert decision.reason == rules.IMPORT_STOPPED


@pytest.mark.parametrize(
    ("current", "expected"),
    [
        (NONE, (Outcome.APPLIED, IN)),
        (OUT, (Outcome.APPLIED, IN)),
        (PENDING, (Outcome.APPLIED, IN)),
        (IN, (Outcome.NO_CHANGE, None)),
    ],
)
def test_postback_subscribed(current, expected):
    decision = rules.decide_opt_in(current, source=Source.POSTBACK, double_opt_in=True)
    assert (decision.outcome, decision.new_status) == expected


def test_only_a_confirmed_opt_in_clears_the_stop():
    assert rules.decide_opt_in(OUT, source=Source.MO, double_opt_in=False).clears_stop
    assert not rules.decide_opt_in(OUT, source=Source.MO, double_opt_in=True).clears_stop
    assert not rules.decide_opt_in(IN, source=Source.MO, double_opt_in=False).clears_stop


# Opt-out -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("current", "expected"),
    [
        (NONE, (Outcome.APPLIED, OUT)),
        (OUT, (Outcome.NO_CHANGE, None)),
        (PENDING, (Outcome.APPLIED, OUT)),
        (IN, (Outcome.APPLIED, OUT)),
    ],
)
def test_opt_out_is_never_refused(current, expected):
    decision = rules.decide_opt_out(current)
    assert (decision.outcome, decision.new_status) == expected
    assert decision.outcome != Outcome.REFUSED


# Ordering ------------------------------------------------------------------------------------


@pytest.mark.parametrize("current", STATES)
def test_an_event_older_than_the_last_applied_one_is_stale(current):
    older, newer = T0, T0 + timedelta(seconds=1)
    for decision in (
        rules.decide_opt_out(current, occurred_at=older, last_occurred_at=newer),
        rules.decide_opt_in(
            current,
            source=Source.POSTBACK,
            double_opt_in=False,
            occurred_at=older,
            last_occurred_at=newer,
        ),
    ):
        assert (decision.outcome, decision.new_status) == (Outcome.STALE, None)


def test_an_event_at_the_same_instant_is_not_stale():
    decision = rules.decide_opt_out(IN, occurred_at=T0, last_occurred_at=T0)
    assert decision.outcome == Outcome.APPLIED


# Confirmation window ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("hours_later", "expected"),
    [
        (0, (Outcome.APPLIED, IN)),
        (23.9, (Outcome.APPLIED, IN)),
        (24, (Outcome.APPLIED, IN)),
        (24.01, (Outcome.REFUSED, None)),
        (240, (Outcome.REFUSED, None)),
    ],
)
def test_confirm_only_inside_the_window(hours_later, expected):
    decision = rules.decide_confirm(
        PENDING, pending_since=T0, window_hours=24, now=T0 + timedelta(hours=hours_later)
    )
    assert (decision.outcome, decision.new_status) == expected
    if decision.outcome == Outcome.REFUSED:
        assert decision.reason == rules.WINDOW_CLOSED


@pytest.mark.parametrize("current", [NONE, OUT, IN])
def test_confirm_changes_nothing_that_is_not_pending(current):
    decision = rules.decide_confirm(current, pending_since=None, window_hours=24, now=T0)
    assert decision.outcome == Outcome.NO_CHANGE


@pytest.mark.parametrize(
    ("current", "expected"),
    [
        (OUT, (Outcome.APPLIED, IN)),
        (IN, (Outcome.NO_CHANGE, None)),
        (PENDING, (Outcome.NO_CHANGE, None)),
    ],
)
def test_restore_after_stop(current, expected):
    decision = rules.decide_restore(current)
    assert (decision.outcome, decision.new_status) == expected


# Inbound words and their precedence ---------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "word"),
    [
        ("STOP", "STOP"),
        ("stop please", "STOP"),
        ("  Quit.", "QUIT"),
        ("opt out", "OPTOUT"),
        ("OPT OUT now", "OPTOUT"),
        ("Opt out.", "OPTOUT"),
        ("opt-out", "OPTOUT"),
        ("OPT-OUT please", "OPTOUT"),
        ('"STOP"', "STOP"),
        ("(stop)", "STOP"),
        ("... stop", "STOP"),
        ("Info?", "INFO"),
        ("deals", "DEALS"),
        ("opt", "OPT"),
        ("", ""),
        ("   ", ""),
    ],
)
def test_first_word(text, word):
    assert rules.first_word(text) == word


MO = rules.MoClass


@pytest.mark.parametrize(
    ("word", "kind", "pending", "expected"),
    [
        # CTIA stop words beat everything, even a keyword of the same spelling.
        ("STOP", None, False, MO.STOP_ALL),
        ("STOP", KeywordKind.PROGRAM, True, MO.STOP_ALL),
        ("END", None, True, MO.STOP_ALL),
        ("OPTOUT", None, False, MO.STOP_ALL),
        # A brand's stop keyword comes next.
        ("LEAVE", KeywordKind.STOP, True, MO.CUSTOM_STOP),
        # YES confirms only when something waits for confirmation; otherwise it is START.
        ("YES", None, True, MO.CONFIRM),
        ("YES", None, False, MO.RESTART),
        ("Y", None, False, MO.CONFIRM),
        ("OK", KeywordKind.CONFIRM, False, MO.CONFIRM),
        ("START", None, True, MO.RESTART),
        ("UNSTOP", None, False, MO.RESTART),
        ("HELP", None, False, MO.HELP),
        ("INFO", None, True, MO.HELP),
        ("ASSIST", KeywordKind.HELP, False, MO.HELP),
        ("DEALS", KeywordKind.PROGRAM, False, MO.JOIN),
        ("DEALS", None, False, MO.NOTHING),
        ("", None, False, MO.NOTHING),
    ],
)
def test_mo_keyword_precedence(word, kind, pending, expected):
    assert rules.mo_class(word, kind, has_pending=lambda: pending) == expected


def test_mo_class_reads_pending_only_when_the_answer_depends_on_it():
    def must_not_be_called():
        raise AssertionError("has_pending was called")

    assert rules.mo_class("STOP", None, has_pending=must_not_be_called) == MO.STOP_ALL
    assert rules.mo_class("DEALS", KeywordKind.PROGRAM, has_pending=must_not_be_called) == MO.JOIN


def test_reserved_words_cover_every_handset_keyword():
    for words in (rules.STOP_WORDS, rules.START_WORDS, rules.YES_WORDS, rules.HELP_WORDS):
        assert words <= rules.RESERVED_WORDS


# Sendable ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("statuses", "stopped", "reason"),
    [
        (set(), False, "no_subscription"),
        ({IN}, False, "opted_in"),
        ({OUT, IN}, False, "opted_in"),
        ({OUT, PENDING}, False, "pending"),
        ({OUT}, False, "opted_out"),
        ({IN}, True, "stopped"),
        ({OUT}, True, "stopped"),
        (set(), True, "stopped"),
    ],
)
def test_best_reason(statuses, stopped, reason):
    assert rules.best_reason(statuses, stopped) == reason
