"""Pieces of the set-based import that need no PostgreSQL: the phone fast path."""

from hypothesis import given
from hypothesis import strategies as st

from subscriptions.common.phones import InvalidPhone, normalize
from subscriptions.imports.chunks import fast_normalize


def _slow(text):
    try:
        return normalize(text)
    except InvalidPhone:
        return None


def _fast(text):
    try:
        return fast_normalize(text)
    except InvalidPhone:
        return None


@given(st.from_regex(r"\A\+1[2-9][0-9]{9}\Z"))
def test_the_fast_path_answers_what_phonenumbers_answers_for_well_formed_numbers(text):
    assert fast_normalize(text) == text == normalize(text)


@given(
    st.one_of(
        st.from_regex(r"\A\+?1?[0-9 ()\-]{6,16}\Z"),
        st.text(max_size=20),
        st.from_regex(r"\A\+1[2-9][0-9]{9}\n\Z"),
    )
)
def test_any_other_text_goes_the_slow_way_with_the_same_answer(text):
    assert _fast(text) == _slow(text)
