"""The preferences page over HTTP: sign-in, changes, enumeration, limits, CSRF, CSP, i18n."""

import re
from io import StringIO
from unittest import mock

import pytest
from django.core import signing
from django.core.cache import cache
from django.core.management import call_command
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from subscriptions.consent import selectors, services
from subscriptions.consent.services import Context
from subscriptions.models import (
    OutboundMessage,
    Revocation,
    ShortCodeStop,
    Source,
    Status,
    Subscription,
    SubscriptionEvent,
)
from subscriptions.preferences import links, service, views
from tests.factories import KeywordFactory, ShortCodeFactory

pytestmark = pytest.mark.django_db

PHONE = "+15555550101"
STRANGER = "+15555550999"
BROWSER = {"HTTP_USER_AGENT": "Mozilla/5.0 (test)", "REMOTE_ADDR": "203.0.113.7"}


@pytest.fixture(autouse=True)
def _fresh_cache():
    cache.clear()  # the database cache table is not part of the test transaction's flush


@pytest.fixture
def deals():
    keyword = KeywordFactory(word="DEALS", title="Weekly deals", short_code__brand="Acme")
    services.opt_in(PHONE, keyword, Context(source="mo"))
    return keyword


@pytest.fixture
def client():
    return Client(**BROWSER)


def _signed_in(client, phone=PHONE):
    """Signed in as the person (as a code sign-in leaves the session); a staff-issued link
    signs in as an assisted session instead (test_staff_link_changes_carry_the_staff_actor)."""
    session = client.session
    session[views.SIGNED_IN] = phone
    session.save()
    return client


def _code_in_outbox(phone):
    return re.search(r"\b(\d{6})\b", OutboundMessage.objects.get(phone=phone).text).group(1)


def test_a_full_sign_in_by_code(client, deals, on_commit):
    with on_commit():
        response = client.post("/preferences/", {"phone": "(555) 555-0101"})
    assert (response.status_code, response["Location"]) == (302, "/preferences/code/")

    response = client.post("/preferences/code/", {"code": _code_in_outbox(PHONE)}, follow=True)
    assert response.redirect_chain == [("/preferences/", 302)]
    page = response.content.decode()
    assert "You are signed in." in page and "Weekly deals" in page and "Acme" in page
    assert client.session.get_expiry_age() == service.SESSION_LIFETIME


def test_a_wrong_code_is_refused_and_five_end_the_code(client, deals, on_commit):
    with on_commit():
        client.post("/preferences/", {"phone": PHONE})
    right = _code_in_outbox(PHONE)
    wrong = f"{(int(right) + 1) % 10**6:06d}"
    for _ in range(service.MAX_ATTEMPTS):
        response = client.post("/preferences/code/", {"code": wrong})
        assert response.status_code == 400
        assert "That code is not right" in response.content.decode()
    response = client.post("/preferences/code/", {"code": right})
    assert response.status_code == 429
    assert "Too many wrong codes. Ask for a new code." in response.content.decode()
    assert "preferences_phone" not in client.session
    assert client.get("/preferences/code/")["Location"] == "/preferences/"


def _normalized(response):
    """The parts of a response a visitor sees, without the per-request random tokens."""
    body = re.sub(
        r'(csrfmiddlewaretoken" value|nonce)="[^"]+"', r'\1="-"', response.content.decode()
    )
    headers = {
        k: re.sub(r"'nonce-[^']+'", "'nonce-'", v)
        for k, v in response.items()
        if k != "X-Request-ID"
    }  # a fresh id for every request, known number or not
    return response.status_code, headers, body.replace(STRANGER, PHONE)


def _ask_for_code(phone, address):
    client = Client(REMOTE_ADDR=address)
    client.get("/preferences/")
    with CaptureQueriesContext(connection) as queries:
        asked = client.post("/preferences/", {"phone": phone})
    return asked, client.get(asked["Location"]), len(queries)


def test_known_and_unknown_numbers_get_identical_answers_and_the_same_work(deals):
    # on_commit callbacks (the worker's lookup and text) are not run: this is the request.
    known = _ask_for_code(PHONE, "203.0.113.1")
    unknown = _ask_for_code(STRANGER, "203.0.113.2")

    assert _normalized(known[0]) == _normalized(unknown[0])  # the redirect
    assert _normalized(known[1]) == _normalized(unknown[1])  # the code page
    assert known[2] == unknown[2]  # the same queries: the same timing
    assert f"If {PHONE} gets texts from us" in known[1].content.decode()


def test_a_wrong_code_for_an_unknown_number_answers_like_for_a_known_one(deals, on_commit):
    answers = []
    for phone, address in ((PHONE, "203.0.113.1"), (STRANGER, "203.0.113.2")):
        client = Client(REMOTE_ADDR=address)
        with on_commit():
            client.post("/preferences/", {"phone": phone})
        answers.append(
            [
                _normalized(client.post("/preferences/code/", {"code": "000000"}))
                for _ in range(service.MAX_ATTEMPTS + 1)
            ]
        )
    assert answers[0] == answers[1]
    assert [a[0] for a in answers[0]] == [400] * service.MAX_ATTEMPTS + [429]
    assert not OutboundMessage.objects.filter(phone=STRANGER).exists()


def test_code_requests_over_the_limit_get_429_and_send_nothing(deals, on_commit):
    count, _window = service.PHONE_LIMIT
    for phone in (PHONE, STRANGER):
        for i in range(count):
            with on_commit():
                answer = Client(REMOTE_ADDR=f"203.0.113.{i}").post(
                    "/preferences/", {"phone": phone}
                )
            assert answer.status_code == 302
        with on_commit():
            answer = Client(REMOTE_ADDR="198.51.100.1").post("/preferences/", {"phone": phone})
        assert answer.status_code == 429
        assert "Too many codes were asked for" in answer.content.decode()
    assert OutboundMessage.objects.filter(phone=PHONE).count() == count
    assert not OutboundMessage.objects.filter(phone=STRANGER).exists()


def test_one_client_address_cannot_ask_codes_for_many_numbers(deals):
    count, _window = service.ADDRESS_LIMIT
    client = Client(REMOTE_ADDR="203.0.113.50")
    statuses = [
        client.post("/preferences/", {"phone": f"+1555555{i:04d}"}).status_code
        for i in range(count + 1)
    ]
    assert statuses == [302] * count + [429]


@pytest.mark.parametrize("phone", ["", "hello", "+1", "1" * 40])
def test_a_bad_phone_number_gets_400_and_sends_nothing(client, deals, phone):
    response = client.post("/preferences/", {"phone": phone})
    assert response.status_code == 400
    assert 'aria-invalid="true"' in response.content.decode()
    assert not OutboundMessage.objects.exists()


@pytest.mark.parametrize("code", ["", "12345", "abcdef", "1234567"])
def test_a_malformed_code_gets_400_and_uses_no_attempt(client, deals, on_commit, code):
    with on_commit():
        client.post("/preferences/", {"phone": PHONE})
    assert client.post("/preferences/code/", {"code": code}).status_code == 400
    assert cache.get(service._key("attempts", PHONE)) is None


def test_leaving_one_program_records_what_the_page_showed(client, deals):
    news = KeywordFactory(short_code=deals.short_code, word="NEWS", title="News")
    services.opt_in(PHONE, news, Context(source="mo"))
    _signed_in(client)
    shown = client.get("/preferences/").content.decode()
    wording = service.leave_wording(deals, PHONE)
    assert wording in shown

    response = client.post("/preferences/programs/", {"keyword": deals.pk}, follow=True)
    assert "You left Weekly deals." in response.content.decode()
    assert selectors.sendable(PHONE, deals.short_code, deals).reason == Status.OPTED_OUT
    assert selectors.sendable(PHONE, news.short_code, news).sendable is True
    event = SubscriptionEvent.objects.get(source=Source.WEB)
    assert (
        event.keyword,
        event.new_status,
        event.consent_text,
        event.ip_address,
        event.user_agent,
    ) == (deals, Status.OPTED_OUT, wording, "203.0.113.7", "Mozilla/5.0 (test)")


def test_stopping_a_code_from_the_page(client, deals):
    _signed_in(client)
    response = client.post("/preferences/stop/", {"short_code": deals.short_code_id}, follow=True)
    assert "will send no more texts from" in response.content.decode()
    assert ShortCodeStop.objects.get(cleared_at__isnull=True).source == Source.WEB
    assert selectors.sendable(PHONE, deals.short_code).reason == "stopped"
    assert "You stopped all texts from this number" in response.content.decode()


def test_joining_a_double_opt_in_program_shows_waiting_for_the_reply(client, deals):
    vip = KeywordFactory(
        short_code=deals.short_code, word="VIP", title="VIP club", double_opt_in=True
    )
    _signed_in(client)
    page = client.post(
        "/preferences/programs/", {"keyword": vip.pk, "join": "1"}, follow=True
    ).content.decode()
    assert "Reply Y to confirm VIP club: we are waiting for your reply." in page
    assert "Waiting for your reply" in page
    assert Subscription.objects.get(keyword=vip).status == Status.PENDING


@pytest.mark.parametrize("data", [{}, {"keyword": "x"}, {"keyword": "-1"}])
def test_a_malformed_switch_gets_400_and_changes_nothing(client, deals, data):
    _signed_in(client)
    assert client.post("/preferences/programs/", data).status_code == 400
    assert client.post("/preferences/stop/", {"short_code": "x"}).status_code == 400
    assert not SubscriptionEvent.objects.filter(source=Source.WEB).exists()


def test_programs_and_codes_of_others_are_404(client, deals):
    private = KeywordFactory(short_code=deals.short_code, is_public=False)
    elsewhere = KeywordFactory()
    _signed_in(client)
    for keyword in (private, elsewhere):
        assert (
            client.post("/preferences/programs/", {"keyword": keyword.pk, "join": "1"}).status_code
            == 404
        )
    for missing in (10**9, 10**30):  # the second is beyond any database integer
        assert client.post("/preferences/programs/", {"keyword": missing}).status_code == 404
        assert client.post("/preferences/stop/", {"short_code": missing}).status_code == 404
    assert (
        client.post("/preferences/stop/", {"short_code": ShortCodeFactory().pk}).status_code == 404
    )
    assert not SubscriptionEvent.objects.filter(source=Source.WEB).exists()


def test_changes_need_a_signed_in_session(client, deals):
    response = client.post("/preferences/programs/", {"keyword": deals.pk})
    assert response["Location"] == "/preferences/"
    response = client.post("/preferences/stop/", {"short_code": deals.short_code_id})
    assert response["Location"] == "/preferences/"
    assert client.get("/preferences/programs/").status_code == 405
    assert not SubscriptionEvent.objects.filter(source=Source.WEB).exists()


def test_sign_out_ends_the_session(client, deals):
    _signed_in(client)
    page = client.post("/preferences/sign-out/", follow=True).content.decode()
    assert "You are signed out." in page and "Weekly deals" not in page
    assert client.post("/preferences/programs/", {"keyword": deals.pk}).status_code == 302
    assert Subscription.objects.get(keyword=deals).status == Status.OPTED_IN


def test_posts_without_a_csrf_token_are_rejected(deals):
    client = Client(enforce_csrf_checks=True, **BROWSER)
    _signed_in(client)
    assert client.post("/preferences/programs/", {"keyword": deals.pk}).status_code == 403
    assert client.post("/preferences/stop/", {"short_code": deals.short_code_id}).status_code == 403
    assert client.post("/preferences/", {"phone": PHONE}).status_code == 403
    assert Subscription.objects.get(keyword=deals).status == Status.OPTED_IN
    assert not SubscriptionEvent.objects.filter(source=Source.WEB).exists()
    assert not OutboundMessage.objects.exists()


def test_a_signed_link_signs_in_and_an_expired_one_does_not(client, deals):
    assert _signed_in(client).session["preferences_phone"] == PHONE
    week_ago = signing.time.time() - links.DEFAULT_MAX_AGE - 1
    with mock.patch("django.core.signing.time.time", return_value=week_ago):
        old = links.preferences_link_path(PHONE)
    fresh = Client()
    for path in (
        old,
        "/preferences/link/garbage/",
        links.preferences_link_path(PHONE)[:-3] + "xx/",
    ):
        response = fresh.get(path)
        assert response.status_code == 400
        assert "This link does not work" in response.content.decode()
    assert "preferences_phone" not in fresh.session


def test_the_page_sends_csp_with_a_nonce_and_no_inline_code(client, deals):
    _signed_in(client)
    response = client.get("/preferences/")
    policy = response["Content-Security-Policy"]
    nonce = re.search(r"'nonce-([^']+)'", policy).group(1)
    html = response.content.decode()
    scripts = re.findall(r"<script[^>]*>", html)
    assert scripts and all(f'nonce="{nonce}"' in s and "src=" in s for s in scripts)
    assert "<style" not in html and " style=" not in html and " on" + "click=" not in html
    assert response["X-Frame-Options"] == "DENY"


def test_spanish_is_chosen_from_the_browser_and_can_be_switched(deals):
    client = Client(HTTP_ACCEPT_LANGUAGE="es-MX,es;q=0.9", **BROWSER)
    start = client.get("/preferences/").content.decode()
    assert '<html lang="es">' in start and "Gestione los mensajes de texto" in start
    _signed_in(client)
    page = client.get("/preferences/").content.decode()
    assert "Sus mensajes de texto" in page and "Detener todos los mensajes de 2" in page
    client.post("/preferences/programs/", {"keyword": deals.pk})
    assert SubscriptionEvent.objects.get(source=Source.WEB).consent_text.startswith(
        "Dejar de recibir mensajes sobre Weekly deals"
    )

    client.post("/i18n/setlang/", {"language": "en", "next": "/preferences/"})
    assert "Your text messages" in client.get("/preferences/").content.decode()


def test_signing_in_records_the_page_language_for_later_texts(deals, on_commit):
    client = Client(HTTP_ACCEPT_LANGUAGE="es", **BROWSER)
    with on_commit():
        client.post("/preferences/", {"phone": PHONE})
    client.post("/preferences/code/", {"code": _code_in_outbox(PHONE)})
    assert selectors.contact_by_phone(PHONE).locale == "es"

    OutboundMessage.objects.all().delete()
    with on_commit():  # the next code, asked from a page in English, is texted in Spanish
        Client(HTTP_ACCEPT_LANGUAGE="en", **BROWSER).post("/preferences/", {"phone": PHONE})
    assert "su código" in OutboundMessage.objects.get(phone=PHONE).text

    client.post("/i18n/setlang/", {"language": "en", "next": "/preferences/"})
    client.get(links.preferences_link_path(PHONE))  # a signed link is a sign-in too
    assert selectors.contact_by_phone(PHONE).locale == "en"


def _page_queries(client):
    with CaptureQueriesContext(connection) as queries:
        response = client.get("/preferences/")
    assert response.status_code == 200
    return len(queries)


def test_the_page_costs_the_same_queries_whatever_the_number_of_programs(client, deals):
    _signed_in(client)
    few = _page_queries(client)
    for _ in range(3):
        code = ShortCodeFactory()
        for i in range(5):
            keyword = KeywordFactory(short_code=code, double_opt_in=i % 2 == 1)
            services.opt_in(PHONE, keyword, Context(source="mo"))
        KeywordFactory(short_code=code)  # public, not joined
    services.stop_all(PHONE, code, Context(source="mo"))
    many = _page_queries(client)
    assert len(service.page_for(PHONE)) == 4
    assert few == many


def test_preferences_link_command_prints_a_working_link(client, deals):
    out = StringIO()
    call_command(
        "preferences_link", "(555) 555-0101", "--base-url", "https://prefs.example/", stdout=out
    )
    url = out.getvalue().strip()
    assert url.startswith("https://prefs.example/preferences/link/")
    response = client.get(url.removeprefix("https://prefs.example"))
    assert response.status_code == 302 and client.session["preferences_phone"] == PHONE


def test_preferences_link_command_refuses_a_bad_number():
    from django.core.management import CommandError

    with pytest.raises(CommandError, match="not a valid phone number"):
        call_command("preferences_link", "nope", stdout=StringIO())


def _address_recorded(client, deals, **headers):
    _signed_in(client)
    client.post("/preferences/programs/", {"keyword": deals.pk}, **headers)
    return SubscriptionEvent.objects.get(source=Source.WEB).ip_address


def test_without_proxies_a_forwarded_header_is_ignored(client, deals):
    assert _address_recorded(client, deals, HTTP_X_FORWARDED_FOR="198.51.100.66") == ("203.0.113.7")
    limit, _window = service.ADDRESS_LIMIT
    spoofer = Client(REMOTE_ADDR="203.0.113.60")
    statuses = [
        spoofer.post(
            "/preferences/", {"phone": f"+1555555{i:04d}"}, HTTP_X_FORWARDED_FOR=f"198.51.100.{i}"
        ).status_code
        for i in range(limit + 1)
    ]
    assert statuses[-1] == 429  # a made-up header does not escape the address limit


def test_behind_a_proxy_the_address_it_saw_is_used(client, deals, settings):
    settings.PORTAL_PROXY_HOPS = 1
    forwarded = "10.9.9.9, 198.51.100.66"  # the client wrote the first, our proxy the last
    assert _address_recorded(client, deals, HTTP_X_FORWARDED_FOR=forwarded) == "198.51.100.66"


def test_a_malformed_forwarded_header_falls_back_to_the_peer(client, deals, settings):
    settings.PORTAL_PROXY_HOPS = 1
    assert _address_recorded(client, deals, HTTP_X_FORWARDED_FOR="not-an-ip") == "203.0.113.7"


def test_staff_link_changes_carry_the_staff_actor_not_the_persons_web_source(client, deals):
    # Issue 16: a change in a session opened by a staff-issued link is the staff member's.
    response = client.get(links.preferences_link_path(PHONE, "alice"))
    assert response.status_code == 302
    client.post("/preferences/stop/", {"short_code": deals.short_code_id})

    events = SubscriptionEvent.objects.filter(action="stop_all")
    assert events and all(e.source == Source.ADMIN for e in events)
    assert {e.actor_label for e in events} == {"alice"}
    assert all(e.detail["assisted_by"] == "alice" for e in events)
    assert not SubscriptionEvent.objects.filter(source=Source.WEB).exists()


def test_the_pages_opt_outs_are_the_persons_revocations(client, deals, on_commit):
    # FCC 24-24: an opt-out by any channel is a revocation: recorded (channel web, the
    # wording the person chose as their words), confirmed once, measured.
    news = KeywordFactory(short_code=deals.short_code, word="NEWS", title="News")
    services.opt_in(PHONE, news, Context(source="mo"))
    _signed_in(client)
    code = deals.short_code

    with on_commit():
        client.post("/preferences/programs/", {"keyword": deals.pk})
    with on_commit():
        client.post("/preferences/stop/", {"short_code": code.pk})

    left, stopped = Revocation.objects.order_by("id")
    assert (left.channel, left.text, list(left.keywords.all())) == (
        "web",
        service.leave_wording(deals, PHONE),
        [deals],
    )
    assert (stopped.channel, stopped.text, list(stopped.keywords.all())) == (
        "web",
        service.stop_all_wording(code, PHONE),
        [],
    )
    assert [r.recorded_by_label for r in (left, stopped)] == [PHONE, PHONE]
    sent = OutboundMessage.objects.filter(phone=PHONE).order_by("id").values_list("text", flat=True)
    assert list(sent) == [
        code.render(code.opt_out_text, program="Weekly deals"),
        code.render(code.stop_text),
    ]


def test_a_staff_assisted_opt_out_is_a_revocation_recorded_by_staff(client, deals):
    client.get(links.preferences_link_path(PHONE, "alice"))
    client.post("/preferences/stop/", {"short_code": deals.short_code_id})

    revocation = Revocation.objects.get()
    assert (revocation.channel, revocation.recorded_by_label) == ("staff", "alice")
