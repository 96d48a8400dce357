# ruff: noqa: RUF001 (the table is made of the look-alike characters handsets send)
"""The revocation classifier (consent/rules/revocation.py): a table of what handsets send,
in English and Spanish, clear revocations, doubtful ones and everything that is not one,
and a property: no decoration of a per-se revocation makes it "not a revocation"."""

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from subscriptions.consent.rules import MoClass, mo_class
from subscriptions.consent.rules.revocation import Verdict, classify, tokens

STOP, REVIEW, NONE = Verdict.STOP, Verdict.REVIEW, None

# Clear revocations: the per-se words, alone or in short replies, and plain requests.
STOPS_EN = [
    "STOP",
    "stop",
    "Stop.",
    "STOP!!!",
    "stop please",
    "Please stop",
    "please STOP now",
    "stop it",
    "Stop all",
    "STOPALL",
    "quit",
    "QUIT",
    "quit it",
    "end",
    "END",
    "End.",
    "revoke",
    "REVOKE",
    "I revoke my consent",
    "i revoke",
    "revoke my consent please",
    "opt out",
    "Opt-out please",
    "opt-out",
    "OPT OUT",
    "optout",
    "opt me out",
    "cancel",
    "Cancel",
    "CANCEL!!",
    "cancel please",
    "cancel these texts",
    "unsubscribe",
    "Unsubscribe me",
    "UNSUBSCRIBE",
    "unsub",
    "unsubscribed",
    "Leave me alone",
    "leave me alone!",
    "take me off this list",
    "Take me off your list",
    "take my number off",
    "remove me",
    "Remove me from this list",
    "remove my number",
    "delete my number",
    "no more texts",
    "No more messages please",
    "no more texts!!",
    "dont text me",
    "don't text me",
    "Do not text me again",
    "do not contact me",
    "stop texting me",
    "Stop texting me!",
    "stop sending me these",
    "stop sending me texts",
    "stop messaging me",
    "stop these texts",
    "stop sending these messages",
    "quit texting me",
    "I don't want these texts",
    "i dont want your texts",
    "I do not want these messages",
    "count me out",
    "i want out",
    "get me off this list",
    "lose my number",
    "never text me again",
    "withdraw my consent",
    "stop now",
    "stop!!!! now",
    "How do I stop these texts?",
    "can you stop texting me",
    "yes stop",
    "ok stop",
    "DEALS stop",
    "stop deals",
    "stop the texts",
    "just stop",
    "thanks but stop",
    "stop thank you",
]
STOPS_ES = [
    "ALTO",
    "alto",
    "Alto!",
    "alto por favor",
    "por favor alto",
    "parar",
    "PARAR",
    "pare",
    "paren",
    "para",
    "PARA",
    "para por favor",
    "para ya",
    "cancelar",
    "Cancelar",
    "cancela",
    "cancelen",
    "baja",
    "BAJA",
    "darme de baja",
    "Quiero darme de baja",
    "dar de baja",
    "denme de baja",
    "desuscribir",
    "desuscribirme",
    "detener",
    "basta",
    "Basta ya",
    "ya basta",
    "no mas",
    "No más",
    "NO MÁS",
    "no más mensajes",
    "No me envíen más mensajes",
    "no me envien mas",
    "no me envíes más mensajes",
    "No me manden más",
    "no me mandes mas textos",
    "no me escriban más",
    "no quiero más mensajes",
    "no quiero recibir mensajes",
    "ya no quiero",
    "dejen de enviarme mensajes",
    "deja de enviarme mensajes",
    "dejen de mandarme cosas",
    "déjenme en paz",
    "dejame en paz",
    "borren mi número",
    "eliminar mi numero",
    "quítenme de la lista",
    "sácame de la lista",
    "revoco mi consentimiento",
    "retiro mi consentimiento",
    "no me contacten",
    "para de enviar",
    "paren de mandar mensajes",
]
# What handsets do to the words: case, punctuation, quotes and brackets, hyphens,
# full-width letters, invisible characters, repeated letters, misspellings, accents.
STOPS_MANGLED = [
    "ＳＴＯＰ",
    "Ｓｔｏｐ",
    "ｓｔｏｐ　ｐｌｅａｓｅ",
    "s\u200btop",
    "st\u200cop",
    "\u200dSTOP\u200d",
    "\ufeffSTOP",
    "S\u00adTOP",
    "\u2060stop\u2060",
    "\u202estop",
    "stop\u200e",
    "stoppp",
    "STOOOOP",
    "stooooppp!!!",
    "sstop",
    "quiiit",
    "ennnd",
    "cancelllll",
    "unsubscribeeee",
    "altoooo",
    "bastaaaa",
    "stpo",
    "sotp",
    "STPO",
    "stp",
    "unsubscibe",
    "unsubcribe",
    "unsuscribe",
    "cancle",
    "cansel",
    "revok",
    "st0p",
    "ST0P",
    "$top",
    "S.T.O.P",
    "s t o p",
    "S-T-O-P",
    '"STOP"',
    "'stop'",
    "“Stop”",
    "‘stop’",
    "«stop»",
    "(stop)",
    "[STOP]",
    "{stop}",
    "<stop>",
    "*stop*",
    "_stop_",
    "~stop~",
    "#stop",
    "@stop",
    "stop.",
    "stop,",
    "stop;",
    "stop:",
    "...stop...",
    "stop 🙏",
    "🛑 STOP 🛑",
    "stop\n",
    "\tstop",
    "   stop   ",
    "stop\r\nplease",
    "opt—out",
    "opt–out",
    "opt_out",
    "opt.out",
    "OPT-OUT!",
    "un-subscribe",
    "unsubscribe.",
    "CANCÉL",
    "cancelár",
    "ALTO‼",
    "¡ALTO!",
    "¡¡basta!!",
    "no mas!!!",
    "NO+MAS",
]
# Doubtful: the number is paused and staff decide.
REVIEWS = [
    # per-se words in passing, in a long message or a question
    "I was going to stop by the store later but first wanted to ask about the deals you "
    "sent me yesterday and the day before that",
    "my sister says I should cancel everything but honestly I am not sure what I want to do "
    "with all of these offers right now",
    "Does STOP work?",
    "can I stop by tomorrow?",
    "will the sale stop on friday?",
    "is cancel the word to use?",
    "should I unsubscribe?",
    "when do you stop the promo?",
    "what happens if i cancel?",
    "END?",
    "quit?",
    "when do these texts end",
    "I quit my job so these texts are no use to me now",
    # negated
    "don't stop",
    "do not stop texting me",
    "dont cancel my deals",
    "never stop",
    "no parar",
    "no cancelar",
    # doubtful phrases
    "not interested",
    "Not interested, thanks",
    "no thanks",
    "No thank you",
    "wrong number",
    "WRONG NUMBER!",
    "wrong person",
    "spam",
    "this is spam",
    "too many texts",
    "too many messages lately",
    "why am I getting these",
    "why do i keep getting these?",
    "I didn't sign up for this",
    "i never signed up",
    "who gave you my number",
    "enough",
    "remove",
    "go away",
    "block",
    "no me interesa",
    "No estoy interesado",
    "no estoy interesada",
    "no gracias",
    "número equivocado",
    "equivocado",
    "¿por qué me llegan estos mensajes?",
    "nunca me suscribí",
    "demasiados mensajes",
    "quítenme",
    # a plain request inside a long message
    "hello there I have been meaning to write for a while because honestly the deals are "
    "nice but please leave me alone for now",
]
# Not revocations: questions, thanks, program keywords, ordinary words with a per-se word
# inside them (word boundaries).
NONES = [
    "",
    "   ",
    "?",
    "!!!",
    "🙂",
    "thanks",
    "Thanks!",
    "thank you",
    "ok",
    "OK thanks",
    "cool",
    "yes",
    "Y",
    "YES",
    "no",
    "NO",
    "START",
    "unstop",
    "UNSTOP",
    "HELP",
    "help",
    "info",
    "DEALS",
    "deals please",
    "NEWS",
    "VIP",
    "JOIN",
    "weekend",
    "this weekend?",
    "see you at the weekend",
    "legend",
    "friend",
    "send",
    "send me the coupon",
    "ending",
    "the end",
    "When does the sale end?",
    "what time does it end?",
    "I quit",
    "quite good",
    "nonstop deals",
    "non-stop",
    "unstoppable",
    "stopwatch",
    "stopover",
    "bus stop",
    "my order was canceled",
    "cancelled order?",
    "cancellation policy?",
    "revoked",
    "What time do you close?",
    "Where is the store?",
    "how much is the vip plan?",
    "is the sale on today",
    "Can I get a coupon?",
    "love these deals",
    "great, see you soon",
    "who is this",
    "hola",
    "gracias",
    "muchas gracias",
    "sí",
    "si",
    "ayuda",
    "para mañana?",
    "gracias para todo",
    "esto es para ti",
    "baja el precio?",
    "precio baja hoy?",
    "altos precios",
    "hasta mañana",
    "¿a qué hora cierran?",
    "¿dónde está la tienda?",
    "me encantan las ofertas",
    "buenas noches",
    "ok gracias",
    "tal vez",
    "unsubscribable",
    "stopped by yesterday, thanks",
    "pending",
    "attend",
    "extend",
    "trend",
    "spend",
]

TABLE = (
    [(text, STOP) for text in STOPS_EN + STOPS_ES + STOPS_MANGLED]
    + [(text, REVIEW) for text in REVIEWS]
    + [(text, NONE) for text in NONES]
)


def test_the_table_has_several_hundred_cases_in_both_languages():
    assert len(TABLE) >= 300
    assert len({text for text, _ in TABLE}) == len(TABLE), "a case is listed twice"


@pytest.mark.parametrize(("text", "expected"), TABLE)
def test_classify(text, expected):
    assert classify(text).verdict == expected, classify(text)


@pytest.mark.parametrize("text", STOPS_EN + STOPS_ES)
@pytest.mark.parametrize("decorate", [str.upper, str.lower, str.title, lambda t: f'"{t}!!"'])
def test_decorated_clear_revocations_stay_clear(text, decorate):
    assert classify(decorate(text)).verdict == STOP


def test_the_decision_names_what_it_matched_and_its_language():
    spanish = classify("No me envíen más mensajes")
    assert (spanish.verdict, spanish.language, spanish.rule) == (STOP, "es", "phrase")
    english = classify("stoppp")
    assert (english.matched, english.language, english.rule) == ("stop", "en", "per_se")


def test_normalisation():
    assert tokens("ＳＴＯＰ  it!") == ["stop", "it"]
    assert tokens("s\u200bt\u200bo\u200bp") == ["stop"]
    assert tokens("Opt-Out") == ["opt", "out"]
    assert tokens("Don’t") == ["dont"]
    assert tokens("envíen más") == ["envien", "mas"]
    assert tokens("S.T.O.P now") == ["stop", "now"]
    assert tokens("I want") == ["i", "want"]


@pytest.mark.parametrize(
    ("text", "extra", "expected"),
    [
        ("go fish", ["go fish"], STOP),
        ("GO-FISH!", ["go fish"], STOP),
        ("go fishing", ["go fish"], NONE),
        ("no more pizza", ["no more pizza"], STOP),
        ("no more pizza", [], NONE),
        ("hello", ["", "  "], NONE),
    ],
)
def test_a_short_codes_own_phrases(text, extra, expected):
    assert classify(text, extra).verdict == expected


# Precedence (keywords.mo_class) ---------------------------------------------------------


def never():
    raise AssertionError("has_pending must not be asked")


@pytest.mark.parametrize(
    ("word", "kind", "verdict", "expected"),
    [
        ("STOP", None, STOP, MoClass.STOP_ALL),  # the provider applied the stop word
        ("STOP1", "stop", STOP, MoClass.CUSTOM_STOP),
        ("PLEASE", None, STOP, MoClass.REVOKE),
        ("DEALS", "program", STOP, MoClass.REVOKE),  # "DEALS stop": a revocation wins
        ("YES", None, STOP, MoClass.REVOKE),
        ("WHY", None, REVIEW, MoClass.REVIEW),
        ("HELP", None, REVIEW, MoClass.REVIEW),
        ("HELP", None, None, MoClass.HELP),
        ("DEALS", "program", None, MoClass.JOIN),
        ("THANKS", None, None, MoClass.NOTHING),
    ],
)
def test_precedence(word, kind, verdict, expected):
    assert mo_class(word, kind, has_pending=never, revocation=verdict) == expected


# Property: decorations never turn a per-se revocation into "not a revocation" ------------

PER_SE = [
    "stop",
    "quit",
    "end",
    "revoke",
    "opt out",
    "cancel",
    "unsubscribe",
    "stop please",
    "please stop",
    "alto",
    "parar",
    "cancelar",
    "baja",
    "no me envíen más",
]
INVISIBLE = ["\u200b", "\u200c", "\u200d", "\u2060", "\ufeff", "\u00ad", "\u200e", "\u202c"]
PUNCTUATION = [*"!?.,;:'\"()[]{}<>*_~#@&/|-", "¡", "¿", "…", "“", "”", "«", "»", "‼"]


@st.composite
def decorated(draw):
    words = draw(st.sampled_from(PER_SE)).split()
    out = []
    for word in words:
        letters = []
        for char in word:
            case = draw(st.sampled_from([str.lower, str.upper]))
            letters.append(case(char))
            letters.append("".join(draw(st.lists(st.sampled_from(INVISIBLE), max_size=2))))
        if draw(st.booleans()):
            letters.append(letters[-2] * draw(st.integers(1, 3)))  # repeated last letter
        around = st.lists(st.sampled_from(PUNCTUATION), max_size=3)
        out.append("".join(draw(around)) + "".join(letters) + "".join(draw(around)))
    text = " ".join(out)
    if draw(st.booleans()):
        text = text.translate({c: c + 0xFEE0 for c in range(0x21, 0x7F)})  # full width
    return text


@settings(max_examples=400, deadline=None)
@given(decorated())
def test_decorations_never_turn_a_per_se_revocation_into_none(text):
    assert classify(text).verdict is not None, (text, tokens(text))
