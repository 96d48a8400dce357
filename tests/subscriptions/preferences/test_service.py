"""subscriptions/service.py: one-time codes, rate limits, the page's data and changes."""

import re

import pytest
from django.core.cache import cache

from subscriptions.consent import selectors, services
from subscriptions.consent.services import Context
from subscriptions.models import (
    MessagePurpose,
    OutboundMessage,
    ShortCodeStop,
    Source,
    Status,
    SubscriptionEvent,
)
from subscriptions.preferences import service
from tests.factories import KeywordFactory, ShortCodeFactory

pytestmark = pytest.mark.django_db

PHONE = "+15555550101"
STRANGER = "+15555550999"


@pytest.fixture(autouse=True)
def _fresh_cache():
    cache.clear()  # the database cache table is not part of the test transaction's flush


@pytest.fixture
def deals():
    keyword = KeywordFactory(word="DEALS", title="Weekly deals", short_code__brand="Acme")
    services.opt_in(PHONE, keyword, Context(source="mo"))
    return keyword


def _issue_code(phone, on_commit, address="203.0.113.5", language="en"):
    with on_commit():
        service.request_code(phone, address, language)
    message = OutboundMessage.objects.filter(phone=phone).first()
    return re.search(r"\b(\d{6})\b", message.text).group(1) if message else None


def test_a_code_is_texted_on_the_numbers_code_and_stored_only_as_a_digest(deals, on_commit):
    code = _issue_code(PHONE, on_commit)

    message = OutboundMessage.objects.get(phone=PHONE)
    assert (message.purpose, message.short_code, message.provider) == (
        MessagePurpose.ONE_TIME_CODE,
        deals.short_code,
        deals.short_code.provider,
    )
    assert message.text.startswith("Acme: your code")
    stored = cache.get(service._key("code", PHONE))
    assert code not in str(stored) and len(stored["digest"]) == 64
    assert service.check_code(PHONE, code) is True


def test_the_code_text_is_in_the_language_of_the_page(deals, on_commit):
    code = _issue_code(PHONE, on_commit, language="es")
    assert OutboundMessage.objects.get(phone=PHONE).text == (
        f"Acme: su código para sus preferencias de mensajes es {code}. Vence en 10 minutos."
    )


def test_the_code_text_is_in_the_language_the_owner_signed_in_with(deals, on_commit):
    services.set_contact_locale(PHONE, "es")
    code = _issue_code(PHONE, on_commit, language="en")  # whoever asked, on an English page
    assert OutboundMessage.objects.get(phone=PHONE).text == (
        f"Acme: su código para sus preferencias de mensajes es {code}. Vence en 10 minutos."
    )


def test_a_code_works_once(deals, on_commit):
    code = _issue_code(PHONE, on_commit)
    assert service.check_code(PHONE, code) is True
    assert service.check_code(PHONE, code) is False


def test_a_code_expires_after_ten_minutes(deals, on_commit, monkeypatch):
    code = _issue_code(PHONE, on_commit)
    issued = service._clock()
    monkeypatch.setattr(service, "_clock", lambda: issued + 10 * 60 + 1)
    assert service.check_code(PHONE, code) is False


def test_five_wrong_codes_drop_the_code_until_a_new_one_is_asked(deals, on_commit):
    code = _issue_code(PHONE, on_commit)
    wrong = f"{(int(code) + 1) % 10**6:06d}"
    assert [service.check_code(PHONE, wrong) for _ in range(5)] == [False] * 5
    with pytest.raises(service.TooManyAttempts):
        service.check_code(PHONE, code)  # even the right code: the code is gone

    new_code = _issue_code(PHONE, on_commit, address="203.0.113.6")
    assert service.check_code(PHONE, new_code) is True


def test_asking_again_makes_the_earlier_code_stop_working(deals, on_commit):
    first = _issue_code(PHONE, on_commit)
    OutboundMessage.objects.all().delete()
    second = _issue_code(PHONE, on_commit)
    if first != second:  # one chance in a million that both are equal
        assert service.check_code(PHONE, first) is False
    assert service.check_code(PHONE, second) is True


def test_an_unknown_number_is_sent_nothing_and_no_code_signs_it_in(deals, on_commit):
    assert _issue_code(STRANGER, on_commit) is None
    assert not OutboundMessage.objects.filter(phone=STRANGER).exists()
    assert cache.get(service._key("code", STRANGER)) is None
    assert not any(service.check_code(STRANGER, guess) for guess in ("000000", "123456"))


def test_the_code_comes_from_a_code_the_number_has_not_stopped(deals, on_commit):
    other = KeywordFactory(short_code__brand="Bistro")
    services.opt_in(PHONE, other, Context(source="mo"))  # the latest change is on Bistro
    services.stop_all(PHONE, other.short_code, Context(source="mo"))
    assert service.short_code_for_codes(PHONE) == deals.short_code

    services.stop_all(PHONE, deals.short_code, Context(source="mo"))
    # Stopped everywhere: the person asked for the code, so it comes from a stopped code.
    assert service.short_code_for_codes(PHONE) in {deals.short_code, other.short_code}


def test_code_requests_are_limited_per_number(deals):
    count, _window = service.PHONE_LIMIT
    for i in range(count):
        service.request_code(PHONE, f"203.0.113.{i}", "en")
    with pytest.raises(service.RateLimited):
        service.request_code(PHONE, "198.51.100.1", "en")


def test_code_requests_are_limited_per_client_address(deals):
    count, _window = service.ADDRESS_LIMIT
    for i in range(count):
        service.request_code(f"+1555555{i:04d}", "203.0.113.9", "en")
    with pytest.raises(service.RateLimited):
        service.request_code(PHONE, "203.0.113.9", "en")
    service.request_code(PHONE, "203.0.113.10", "en")  # another address is not affected


def test_the_page_shows_every_code_with_joined_and_public_programs(deals):
    code = deals.short_code
    doi = KeywordFactory(short_code=code, word="VIP", title="VIP club", double_opt_in=True)
    left = KeywordFactory(short_code=code, word="NEWS", title="News")
    KeywordFactory(short_code=code, word="STAFF", is_public=False)  # never joined: hidden
    KeywordFactory(word="ELSEWHERE")  # a code the number is not known on: hidden
    services.opt_in(PHONE, doi, Context(source="mo"))
    services.opt_in(PHONE, left, Context(source="mo"))
    services.opt_out(PHONE, left, Context(source="mo"))
    public = KeywordFactory(short_code=code, word="ALERTS", title="Alerts")

    [group] = service.page_for(PHONE)
    rows = {row.keyword.word: row for row in group.programs}
    assert (group.short_code, group.stopped) == (code, False)
    assert list(rows) == ["ALERTS", "NEWS", "VIP", "DEALS"]  # by title
    assert (rows["DEALS"].status, rows["DEALS"].is_on) == (Status.OPTED_IN, True)
    assert (rows["VIP"].status, rows["VIP"].waiting, rows["VIP"].is_on) == (
        Status.PENDING,
        True,
        True,
    )
    assert (rows["NEWS"].status, rows["NEWS"].is_on) == (Status.OPTED_OUT, False)
    assert (rows["ALERTS"].status, rows["ALERTS"].is_on) == (None, False)
    assert rows["ALERTS"].wording == service.join_wording(public, PHONE)
    assert rows["DEALS"].wording == service.leave_wording(deals, PHONE)
    assert service.page_for(STRANGER) == []


def test_a_pending_program_past_its_window_is_shown_off(deals):
    code = deals.short_code
    code.double_opt_in_window_hours = 0
    code.save()
    doi = KeywordFactory(short_code=code, double_opt_in=True)
    services.opt_in(PHONE, doi, Context(source="mo"))
    row = next(r for r in service.page_for(PHONE)[0].programs if r.keyword == doi)
    assert (row.status, row.waiting, row.is_on) == (Status.PENDING, False, False)


def _visitor(phone=PHONE):
    return service.Visitor(phone=phone, ip_address="203.0.113.7", user_agent="Test/1.0")


def test_joining_a_double_opt_in_program_waits_and_sends_the_prompt(deals, on_commit):
    doi = KeywordFactory(
        short_code=deals.short_code, word="VIP", title="VIP club", double_opt_in=True
    )
    with on_commit():
        service.join(_visitor(), doi)

    assert selectors.sendable(PHONE, doi.short_code, doi).reason == Status.PENDING
    prompt = OutboundMessage.objects.get(phone=PHONE, purpose=MessagePurpose.DOUBLE_OPT_IN)
    assert prompt.text == "Acme: reply Y to confirm VIP club. Msg&data rates may apply."
    event = SubscriptionEvent.objects.get(keyword=doi)
    assert (event.source, event.new_status, event.ip_address, event.user_agent) == (
        Source.WEB,
        Status.PENDING,
        "203.0.113.7",
        "Test/1.0",
    )
    assert event.consent_text == service.join_wording(doi, PHONE)


def test_joining_a_single_opt_in_program_sends_the_welcome_text(deals):
    news = KeywordFactory(short_code=deals.short_code, word="NEWS", title="News")
    service.join(_visitor(), news)
    assert selectors.sendable(PHONE, news.short_code, news).sendable is True
    welcome = OutboundMessage.objects.get(phone=PHONE, purpose=MessagePurpose.CONFIRMATION)
    assert welcome.text == "Acme: you joined News. Reply HELP for help, STOP to cancel."


def test_joining_again_when_in_changes_nothing_and_texts_nothing(deals):
    result = service.join(_visitor(), deals)
    assert result.changed == []
    assert not OutboundMessage.objects.exists()


def test_stop_all_records_a_stop_with_the_wording_shown(deals):
    service.stop_all(_visitor(), deals.short_code)
    assert selectors.sendable(PHONE, deals.short_code).reason == "stopped"
    assert ShortCodeStop.objects.get().source == Source.WEB
    events = SubscriptionEvent.objects.filter(source=Source.WEB)
    assert {e.consent_text for e in events} == {service.stop_all_wording(deals.short_code, PHONE)}


def test_only_joined_or_public_programs_on_known_codes_can_be_switched(deals):
    code = deals.short_code
    private = KeywordFactory(short_code=code, is_public=False)
    public_here = KeywordFactory(short_code=code)
    public_elsewhere = KeywordFactory()
    help_word = KeywordFactory(short_code=code, kind="help", word="HELP")
    assert service.program_for(PHONE, deals.pk) == deals
    assert service.program_for(PHONE, public_here.pk) == public_here
    assert service.program_for(PHONE, private.pk) is None
    assert service.program_for(PHONE, public_elsewhere.pk) is None
    assert service.program_for(PHONE, help_word.pk) is None
    assert service.program_for(STRANGER, public_here.pk) is None
    assert service.short_code_of(PHONE, code.pk) == code
    assert service.short_code_of(PHONE, ShortCodeFactory().pk) is None


def test_rate_limits_survive_a_busy_cache(deals):
    # The database cache culls a third of its rows when full; a full cache must not be a
    # way to reset the limits (Django's default is only 300 rows).
    first = "203.0.113.1"
    for _ in range(service.ADDRESS_LIMIT[0]):
        service._over_limit("address", first, service.ADDRESS_LIMIT)
    for n in range(400):
        service._over_limit("address", f"198.51.{n // 256}.{n % 256}", service.ADDRESS_LIMIT)
    assert service._over_limit("address", first, service.ADDRESS_LIMIT) is True
