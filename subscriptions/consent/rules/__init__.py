"""Every consent rule, pure: decisions (docs/rules.md), keywords and their precedence.

No database and no clock: callers pass the state and the time.
"""

from subscriptions.consent.rules.decisions import (
    ALREADY_IN,
    ALREADY_OUT,
    IMPORT_CANNOT_CONFIRM,
    IMPORT_OPTED_OUT,
    IMPORT_STOPPED,
    REVIEW,
    STALE,
    WINDOW_CLOSED,
    Decision,
    best_reason,
    decide_confirm,
    decide_opt_in,
    decide_opt_out,
    decide_restore,
    in_window,
    is_stale,
    opt_in_floor,
)
from subscriptions.consent.rules.keywords import (
    HELP_WORDS,
    RESERVED_WORDS,
    START_WORDS,
    STOP_WORDS,
    YES_WORDS,
    MoClass,
    first_word,
    mo_class,
)
from subscriptions.consent.rules.revocation import Classification, Verdict, classify

__all__ = [
    "ALREADY_IN",
    "ALREADY_OUT",
    "HELP_WORDS",
    "IMPORT_CANNOT_CONFIRM",
    "IMPORT_OPTED_OUT",
    "IMPORT_STOPPED",
    "RESERVED_WORDS",
    "REVIEW",
    "STALE",
    "START_WORDS",
    "STOP_WORDS",
    "WINDOW_CLOSED",
    "YES_WORDS",
    "Classification",
    "Decision",
    "MoClass",
    "Verdict",
    "best_reason",
    "classify",
    "decide_confirm",
    "decide_opt_in",
    "decide_opt_out",
    "decide_restore",
    "first_word",
    "in_window",
    "is_stale",
    "mo_class",
    "opt_in_floor",
]
