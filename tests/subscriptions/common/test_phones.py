import pytest
from hypothesis import given
from hypothesis import settings as examples
from hypothesis import strategies as st

from subscriptions.common import phones
from subscriptions.common.phones import InvalidPhone, normalize


@pytest.mark.parametrize(
    ("raw", "e164"),
    [
        ("+15555551212", "+15555551212"),
        ("15555551212", "+15555551212"),
        ("5555551212", "+15555551212"),
        ("(555) 555-1212", "+15555551212"),
        ("16501112222", "+16501112222"),
        ("447700900123", "+447700900123"),
        ("+44 7700 900123", "+447700900123"),
    ],
)
def test_accepted_formats_come_back_as_e164(raw, e164, settings):
    settings.PORTAL_DEFAULT_REGION = "US"
    assert normalize(raw) == e164


@pytest.mark.parametrize(
    "raw", ["", None, "   ", "12", "call me", "+1555", "1" * 40, "+999999999999"]
)
def test_wrong_numbers_are_refused_with_a_message(raw):
    with pytest.raises(InvalidPhone) as error:
        normalize(raw)
    assert str(error.value)


def test_national_format_follows_the_default_region(settings):
    settings.PORTAL_DEFAULT_REGION = "GB"
    assert normalize("07700 900123") == "+447700900123"


# Issue 16: a number must be complete for its region --------------------------------------


@pytest.mark.parametrize("text", ["5551212", "555-1212", "+15551212", "1 555 1212", "+4420718387"])
def test_a_number_possible_only_as_a_local_number_is_refused(text):
    with pytest.raises(InvalidPhone):
        normalize(text, "US")


@pytest.mark.parametrize(
    ("text", "e164"),
    [
        ("+1 650 111 2222", "+16501112222"),
        ("+1 555 555 1212", "+15555551212"),
        ("15555551212", "+15555551212"),
        ("(555) 555-0101", "+15555550101"),
        ("+442071838750", "+442071838750"),
    ],
)
def test_the_seed_and_demo_numbers_still_work(text, e164):
    assert normalize(text, "US") == e164


# The fast path (plain North American numbers) must answer exactly as phonenumbers does.
NANP_DIGITS = st.from_regex(r"[2-9][0-9]{9}", fullmatch=True)


def _by_phonenumbers(text, region):
    try:
        return phones._slow(text, region)
    except InvalidPhone:
        return None


@examples(max_examples=400, deadline=None)
@given(
    digits=NANP_DIGITS,
    form=st.sampled_from(["{}", "1{}", "+1{}"]),
    region=st.sampled_from(["US", "CA", "GB", "DE"]),
)
def test_the_fast_path_answers_as_phonenumbers(digits, form, region):
    text = form.format(digits)
    fast = phones._fast(text, region)
    if fast is not None:
        assert fast == _by_phonenumbers(text, region)
    if region in ("US", "CA"):
        assert fast == "+1" + digits  # every plain +1 form takes the fast path there


@examples(max_examples=300, deadline=None)
@given(text=st.text(alphabet="+0123456789 ()-.", min_size=1, max_size=16))
def test_anything_else_falls_through_or_agrees(text):
    fast = phones._fast(text, "US")
    assert fast is None or fast == _by_phonenumbers(text, "US")


def _one(raw, region):
    try:
        return normalize(raw, region)
    except InvalidPhone:
        return None


@examples(max_examples=300, deadline=None)
@given(
    raws=st.lists(
        st.one_of(
            st.text(alphabet="+0123456789 ()-.x", max_size=36),
            NANP_DIGITS.map(lambda d: f" +1{d} "),
            NANP_DIGITS.map(lambda d: f"1{d}"),
            st.none(),
        ),
        max_size=12,
    ),
    region=st.sampled_from(["US", "GB"]),
)
def test_the_batch_form_answers_each_number_as_normalize_does(raws, region):
    assert phones.normalize_many(raws, region) == [_one(raw, region) for raw in raws]
