"""Is a text a revocation of consent? (FCC 24-24; docs/rules.md "Revocation"). Pure.

`classify(text)` answers STOP (a clear revocation: apply it), REVIEW (it may be one: pause
the number and let staff decide) or None (not a revocation: the keyword precedence of
`keywords.mo_class` reads it as before). How the two combine is written once, in
`keywords.mo_class`.

What handsets send is normalised first (`tokens`): Unicode NFKC (full-width letters),
invisible and formatting characters dropped (zero-width spaces, joiners, soft hyphens,
bidi marks, fillers), case folded, accents removed, apostrophes dropped ("don't" ->
"dont"), every other punctuation, quote, bracket and hyphen a word break ("opt-out" ->
"opt out"), letters spelled out one by one joined ("S.T.O.P" -> "stop"), look-alike digits
inside words read as letters ("st0p"), and runs of a repeated letter squeezed to one
("stoppp" -> "stop"; the lexicon is squeezed the same way, so "off" matches "off").

The words are data, one file per language (phrases/<lang>.txt): per-se words, weak per-se
words (also everyday words), misspellings, plain-language phrases, doubtful phrases,
negators and filler. Words match whole words only ("weekend" is not "end"); long per-se
words also match with one typo (Damerau distance 1). The decision, in order:
1. a phrase of the short code's own (`extra`) or of the lexicon: STOP in a message of at
   most LONG_MESSAGE words, REVIEW in a longer one;
2. a per-se word (outside the everyday phrases of [ignore], "bus stop"): REVIEW when
   negated ("don't stop"); STOP when the rest of the reply is filler ("stop please!");
   REVIEW when the message is a question or longer than SHORT_REPLY words; STOP otherwise.
   A weak per-se word ("end", "quit", "para", "baja") is STOP only as the first word of a
   reply otherwise made of filler (REVIEW if that is a question); elsewhere it is REVIEW
   when the message talks about the texts, else nothing;
3. a doubtful phrase ("not interested", "wrong number"): REVIEW;
4. anything else: None.
"""

import re
import unicodedata
from dataclasses import dataclass
from enum import StrEnum
from functools import cache
from importlib import resources

LANGUAGES = ("en", "es")
SHORT_REPLY = 8  # words: a per-se word in a reply this short is a revocation
LONG_MESSAGE = 20  # words: a plain-language request in a longer message goes to review
FUZZY_MIN_LENGTH = 9  # per-se words this long also match with one typo

# Characters with no visible form that handsets and keyboards insert (category Cf covers
# zero-width spaces and joiners, soft hyphens, bidi marks, the BOM); fillers are letters.
_INVISIBLE_LETTERS = {"\u115f", "\u1160", "\u3164", "\uffa0", "\u180e", "\u034f"}
_APOSTROPHES = re.compile(r"['\u2018\u2019\u02bc\u0060\u00b4]")
_NON_WORD = re.compile(r"[^a-z0-9]+")
_LOOKALIKE = str.maketrans({"0": "o", "1": "i", "3": "e", "4": "a", "5": "s", "$": "s"})
_REPEATS = re.compile(r"([a-z])\1+")
_QUESTION_MARKS = ("?", "¿")
_CONTEXT_WORDS = frozenset({"text", "texts", "texting", "message", "messages", "msgs", "sms"})
_CONTEXT_WORDS |= frozenset({"mensaje", "mensajes", "textos", "texto"})
_QUESTION_WORDS = frozenset(
    {"how", "what", "when", "why", "where", "who", "which", "does", "is", "are", "can"}
    | {"will", "would", "could", "should", "como", "que", "cuando", "donde", "quien"}
    | {"cual", "porque", "cuanto"}
)


class Verdict(StrEnum):
    STOP = "stop"  # a clear revocation
    REVIEW = "review"  # may be one: pause and ask staff


@dataclass(frozen=True)
class Classification:
    verdict: Verdict | None
    matched: str = ""  # the lexicon entry that decided, normalised
    language: str = ""  # the lexicon it came from ("en", "es", "code" for a brand's own)
    rule: str = ""  # which step of the decision (module docstring) answered

    def __bool__(self):
        return self.verdict is not None


NOT_A_REVOCATION = Classification(None)


# Normalisation ---------------------------------------------------------------------------


def _visible(char):
    if char in _INVISIBLE_LETTERS:
        return ""
    category = unicodedata.category(char)
    if category == "Cf":
        return ""
    if category == "Mn":  # combining marks: the accents once NFD split them off
        return ""
    if category in ("Cc", "Zs", "Zl", "Zp"):
        return " "
    return char


def _word(token):
    if any(c.isalpha() for c in token) and any(c in "01345" for c in token):
        token = token.translate(_LOOKALIKE)
    return _REPEATS.sub(r"\1", token)


def tokens(text: str) -> list[str]:
    """The words of `text` as the lexicon is written: see the module docstring."""
    text = unicodedata.normalize("NFKC", text or "").casefold()
    text = unicodedata.normalize("NFD", text)
    text = "".join(_visible(c) for c in text)
    text = _APOSTROPHES.sub("", text)
    raw = [t for t in _NON_WORD.sub(" ", text.replace("$", "s")).split() if t]
    return [_word(t) for t in _join_spelled(raw)]


def _join_spelled(words):
    """Letters spelled out one by one ("s t o p") become one word; a lone "i" stays."""
    out, run = [], []
    for word in [*words, ""]:
        if len(word) == 1 and word.isalpha():
            run.append(word)
            continue
        out.extend(["".join(run)] if len(run) >= 3 else run)
        run = []
        if word:
            out.append(word)
    return out


def is_question(text: str) -> bool:
    folded = unicodedata.normalize("NFKC", text or "")
    return any(mark in folded for mark in _QUESTION_MARKS)


# The lexicon -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Lexicon:
    language: str
    per_se: tuple  # tuples of words
    weak: frozenset  # single words
    misspellings: dict  # word -> tuple of words
    phrases: tuple  # compiled patterns with their text
    review: tuple
    negators: tuple  # tuples of words
    filler: frozenset
    ignore: tuple = ()  # phrases whose per-se word is not one


def _sections(text):
    sections, current = {}, None
    for line in text.splitlines():
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        if line.startswith("[") and line.endswith("]"):
            current = sections.setdefault(line[1:-1].strip(), [])
        elif current is not None:
            current.append(line)
    return sections


def phrase_pattern(phrase: str) -> re.Pattern:
    """A phrase as a whole-word pattern over the joined tokens; "*" is up to two words, and
    a word ending in "+" is a stem ("envi+" matches envien, enviar, enviarme)."""
    parts = []
    for word in phrase.split():
        if word == "*":
            parts.append(r"(?:\S+ ){0,2}")
        elif word.endswith("+") and tokens(word):
            parts.append(re.escape("".join(tokens(word))) + r"\S* ")
        else:
            parts.append(" ".join(re.escape(t) for t in tokens(word)) + " ")
    return re.compile(r"(?:^| )" + "".join(parts).rstrip(" ") + r"(?= |$)")


def _compiled(lines):
    return tuple((line, phrase_pattern(line)) for line in lines)


@cache
def lexicon(language: str) -> Lexicon:
    """The parsed lexicon of one language (phrases/<language>.txt), cached."""
    text = resources.files("subscriptions.consent.rules.phrases").joinpath(f"{language}.txt")
    sections = _sections(text.read_text(encoding="utf-8"))
    misspellings = {}
    for line in sections.get("misspellings", []):
        wrong, _, right = line.partition("=")
        misspellings[" ".join(tokens(wrong))] = tuple(tokens(right))
    return Lexicon(
        language=language,
        per_se=tuple(tuple(tokens(line)) for line in sections.get("per_se", [])),
        weak=frozenset(" ".join(tokens(line)) for line in sections.get("weak", [])),
        misspellings=misspellings,
        phrases=_compiled(sections.get("phrases", [])),
        review=_compiled(sections.get("review", [])),
        negators=tuple(tuple(tokens(line)) for line in sections.get("negators", [])),
        filler=frozenset(t for line in sections.get("filler", []) for t in tokens(line)),
        ignore=_compiled(sections.get("ignore", [])),
    )


@cache
def _extra_patterns(extra: tuple) -> tuple:
    return _compiled([line for line in extra if tokens(line)])


def _near(a, b):
    """Damerau-Levenshtein distance of at most one (one typo: add, drop, swap, change)."""
    if a == b:
        return True
    if abs(len(a) - len(b)) > 1:
        return False
    if len(a) == len(b):
        diff = [i for i in range(len(a)) if a[i] != b[i]]
        if len(diff) == 1:
            return True
        return len(diff) == 2 and diff[1] == diff[0] + 1 and a[diff[0]] == b[diff[1]]
    short, long_ = sorted((a, b), key=len)
    return any(long_[:i] + long_[i + 1 :] == short for i in range(len(long_)))


def _corrected(words, lex):
    """The words with the lexicon's misspellings and one-typo per-se words corrected."""
    long_words = [w[0] for w in lex.per_se if len(w) == 1 and len(w[0]) >= FUZZY_MIN_LENGTH]
    out = []
    for word in words:
        if word in lex.misspellings:
            out.extend(lex.misspellings[word])
            continue
        if len(word) >= FUZZY_MIN_LENGTH:
            near = next((w for w in long_words if _near(word, w)), None)
            if near:
                out.append(near)
                continue
        out.append(word)
    return out


def _find(words, sequence):
    n = len(sequence)
    return [i for i in range(len(words) - n + 1) if tuple(words[i : i + n]) == sequence]


# The decision ------------------------------------------------------------------------------


def classify(text: str, extra: tuple | list = ()) -> Classification:
    """STOP, REVIEW or None for a text; `extra` are the short code's own revocation phrases
    (ShortCode.revocation_phrases). See the module docstring for the order."""
    words = tokens(text)
    if not words:
        return NOT_A_REVOCATION
    joined = " ".join(words)
    long_message = len(words) > LONG_MESSAGE
    for phrase, pattern in _extra_patterns(tuple(extra)):
        if pattern.search(joined):
            verdict = Verdict.REVIEW if long_message else Verdict.STOP
            return Classification(verdict, phrase, "code", "phrase")
    found = None
    for language in LANGUAGES:
        lex = lexicon(language)
        corrected = _corrected(words, lex)
        fixed = " ".join(corrected)
        for phrase, pattern in lex.phrases:
            match = pattern.search(fixed)
            if match:
                start = len(fixed[: match.start()].split())
                leading = (corrected[start],) if start < len(corrected) else ()
                if leading not in lex.negators and _negated(corrected, start, lex):
                    return Classification(Verdict.REVIEW, phrase, language, "negated")
                verdict = Verdict.REVIEW if long_message else Verdict.STOP
                return Classification(verdict, phrase, language, "phrase")
        for _, pattern in lex.ignore:
            fixed = pattern.sub(" ", fixed)
        found = found or _per_se(text, fixed.split(), lex)
    if found:
        return found
    for language in LANGUAGES:
        fixed = " ".join(_corrected(words, lexicon(language)))
        for phrase, pattern in lexicon(language).review:
            if pattern.search(fixed):
                return Classification(Verdict.REVIEW, phrase, language, "doubtful")
    return NOT_A_REVOCATION


def _per_se(text, words, lex):
    """Step 2 for one language: the first per-se word found, or None."""
    hits = [(i, seq) for seq in lex.per_se for i in _find(words, seq)]
    if not hits:
        return None
    hits.sort(key=lambda hit: (" ".join(hit[1]) in lex.weak, hit[0]))
    start, seq = hits[0]
    matched = " ".join(seq)
    covered = {j for i, s in hits for j in range(i, i + len(s))}
    rest = [w for j, w in enumerate(words) if j not in covered]
    only_filler = all(w in lex.filler for w in rest)
    question = is_question(text) or words[0] in _QUESTION_WORDS
    if _negated(words, start, lex):
        return Classification(Verdict.REVIEW, matched, lex.language, "negated")
    about_texts = any(w in _CONTEXT_WORDS for w in words)
    if matched in lex.weak:
        if start == 0 and only_filler:
            verdict = Verdict.REVIEW if question else Verdict.STOP
            return Classification(verdict, matched, lex.language, "per_se_weak")
        if about_texts:
            return Classification(Verdict.REVIEW, matched, lex.language, "per_se_weak")
        return None
    if only_filler:
        return Classification(Verdict.STOP, matched, lex.language, "per_se")
    if question or len(words) > SHORT_REPLY:
        return Classification(Verdict.REVIEW, matched, lex.language, "per_se_in_passing")
    return Classification(Verdict.STOP, matched, lex.language, "per_se")


def _negated(words, start, lex):
    before = words[max(0, start - 3) : start]
    return any(
        tuple(before[-len(neg) :]) == neg or tuple(before[-len(neg) - 1 : -1]) == neg
        for neg in lex.negators
        if len(before) >= len(neg)
    )
