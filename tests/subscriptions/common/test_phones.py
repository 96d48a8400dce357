import pytest

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
