"""Keywords a handset may text, and the precedence in which a text is read.

This is the one place the MO precedence is written (docs/rules.md "Keywords" and
"Revocation"); `inbound.mo` asks `mo_class` and runs the handler of the answer:
1. a CTIA stop word as the first word (STOP_ALL: the provider running the code applied
   it before forwarding the text);
2. the brand's stop keyword as the first word (CUSTOM_STOP);
3. the revocation classifier (`revocation.classify`, with the code's own phrases): a clear
   revocation is REVOKE (a STOP the provider did not see as one), a doubtful one REVIEW;
4. the keyword classes of the first word: confirm (when something waits for it), START /
   UNSTOP, YES as START, the confirm keyword, HELP, a program keyword, nothing.
A revocation therefore beats every keyword but the stop words themselves: "DEALS stop" is
a STOP, "YES please stop" is a STOP, and "HELP" is help.
"""

from enum import StrEnum

from subscriptions.consent.rules.revocation import Verdict
from subscriptions.models.choices import KeywordKind

# Words a handset may send, first word of the message, case-insensitive (CTIA; docs/rules.md
# "Keywords").
STOP_WORDS = frozenset(
    {"STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT", "REVOKE", "OPTOUT"}
)
START_WORDS = frozenset({"START", "UNSTOP", "YES"})
YES_WORDS = frozenset({"YES", "Y"})
HELP_WORDS = frozenset({"HELP", "INFO"})

# Words no program keyword may take (a discovered one, or one staff create): they mean
# something else on every code.
RESERVED_WORDS = STOP_WORDS | START_WORDS | YES_WORDS | HELP_WORDS


def reserved_word_problem(word: str, kind: str) -> str | None:
    """Why a keyword may not take `word`, or None. A carrier stop word always stops the whole
    code, so no keyword can use it; START, YES and HELP words are read before program
    keywords (`mo_class`), so only a confirm keyword may take a YES word and only a HELP
    keyword a HELP word (they mean the same thing there)."""
    if word in STOP_WORDS:
        return f"{word} is a carrier STOP word; a handset sending it always stops everything."
    if (kind == KeywordKind.HELP and word in HELP_WORDS) or (
        kind == KeywordKind.CONFIRM and word in YES_WORDS
    ):
        return None
    if word in RESERVED_WORDS:
        return f"{word} is read as {_reserved_meaning(word)} on every code; choose another word."
    return None


def _reserved_meaning(word: str) -> str:
    if word in YES_WORDS and word not in START_WORDS:
        return "a confirmation"
    if word in START_WORDS:
        return "START"
    return "HELP"


class MoClass(StrEnum):
    """What a text from a handset is, before anything is applied."""

    STOP_ALL = "stop_all"  # a CTIA stop word: every program on the code, and the code's STOP
    CUSTOM_STOP = "custom_stop"  # a brand's stop keyword: the programs it names
    CONFIRM = "confirm"  # double opt-in confirmation
    RESTART = "restart"  # START / UNSTOP after a STOP
    REVOKE = "revoke"  # a clear revocation in other words: the code's STOP, sent everywhere
    REVIEW = "review"  # may be a revocation: pause the number on the code, staff decide
    HELP = "help"
    JOIN = "join"  # a program keyword
    NOTHING = "nothing"


_EDGE_PUNCTUATION = ".!?,;:\"'()[]"


def first_word(text: str) -> str:
    """The first word, upper-cased, without the punctuation around it; "OPT OUT",
    "OPT-OUT" and "Opt out." count as the one word OPTOUT."""
    words = [w.strip(_EDGE_PUNCTUATION) for w in (text or "").upper().split()]
    words = [w for w in words if w]
    if not words:
        return ""
    if words[0] in ("OPT-OUT", "OPT_OUT") or (
        words[0] == "OPT" and len(words) > 1 and words[1] == "OUT"
    ):
        return "OPTOUT"
    return words[0]


def mo_class(
    word: str, keyword_kind: str | None, *, has_pending, revocation: Verdict | None = None
) -> MoClass:
    """The classes in the precedence of the module docstring: CTIA stop words beat
    everything; a brand's stop keyword next; then a revocation (`revocation` is the verdict
    of `revocation.classify` for the whole text); YES (or a confirm keyword) confirms when
    something waits for confirmation on the code, otherwise YES is START. `has_pending` is
    called only when the answer depends on it (it reads the database)."""
    confirms = word in YES_WORDS or keyword_kind == KeywordKind.CONFIRM
    if word in STOP_WORDS:
        return MoClass.STOP_ALL
    if keyword_kind == KeywordKind.STOP:
        return MoClass.CUSTOM_STOP
    if revocation == Verdict.STOP:
        return MoClass.REVOKE
    if revocation == Verdict.REVIEW:
        return MoClass.REVIEW
    if confirms and has_pending():
        return MoClass.CONFIRM
    if word in START_WORDS:
        return MoClass.RESTART
    if confirms:
        return MoClass.CONFIRM
    if word in HELP_WORDS or keyword_kind == KeywordKind.HELP:
        return MoClass.HELP
    if keyword_kind == KeywordKind.PROGRAM:
        return MoClass.JOIN
    return MoClass.NOTHING
