"""The preferences page in real Chromium: sign-in by code and by link, changes, double
opt-in completed by an MO "Y", wrong codes, expired links, Spanish, no JavaScript.
Every page is photographed at phone and desktop widths, checked for horizontal overflow at
375 px, for CSP violations, and with axe-core for serious or critical accessibility issues."""

import re
from pathlib import Path
from unittest import mock

import pytest
from django.core import signing
from django.core.cache import cache

from subscriptions.consent import selectors, services
from subscriptions.consent.services import Context
from subscriptions.models import (
    Action,
    MessagePurpose,
    OutboundMessage,
    Source,
    Status,
    SubscriptionEvent,
)
from subscriptions.preferences import links
from tests.conftest import requirement_missing
from tests.factories import KeywordFactory, ShortCodeFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PHONE = "+15555550101"
NATIONAL = "(555) 555-0101"  # how the page and its wording write the number
AXE = Path(__file__).resolve().parent / "node_modules" / "axe-core" / "axe.min.js"
PHONE_WIDTH, DESKTOP_WIDTH = 375, 1280


@pytest.fixture(autouse=True)
def _fresh_cache():
    cache.clear()  # rate-limit counters live in the cache table, which flush leaves alone


@pytest.fixture
def programs():
    """Acme (12345): deals and news joined, VIP (double opt-in) public; Bistro (67890):
    its news joined."""
    acme = ShortCodeFactory(code="12345", brand="Acme")
    bistro = ShortCodeFactory(code="67890", brand="Bistro Verde")
    made = {
        "deals": KeywordFactory(
            short_code=acme,
            word="DEALS",
            title="Weekly deals",
            description="One text a week with our best offers.",
        ),
        "news": KeywordFactory(short_code=acme, word="NEWS", title="Acme news"),
        "vip": KeywordFactory(
            short_code=acme,
            word="VIP",
            title="VIP club",
            double_opt_in=True,
            description="Early access to sales.",
        ),
        "bistro": KeywordFactory(short_code=bistro, word="MENU", title="Bistro menus"),
    }
    for name in ("deals", "news", "bistro"):
        services.opt_in(PHONE, made[name], Context(source="mo"))
    return made


class Checks:
    """What every page must pass, and its screenshots."""

    def __init__(self, page, artifacts_dir):
        self.page = page
        self.artifacts_dir = artifacts_dir
        self.csp_violations = []
        page.on(
            "console",
            lambda m: "Content Security Policy" in m.text and self.csp_violations.append(m.text),
        )

    def page_ok(self, name):
        """Photographed, checked for overflow and by axe-core at both widths (a layout can
        hide or shrink things at one width only)."""
        page = self.page
        page.set_viewport_size({"width": PHONE_WIDTH, "height": 812})
        page.screenshot(path=self.artifacts_dir / f"{name}-phone.png", full_page=True)
        scroll_width = page.evaluate("document.documentElement.scrollWidth")
        assert scroll_width <= PHONE_WIDTH, f"{name}: {scroll_width}px wide at {PHONE_WIDTH}px"
        self.accessible(f"{name} at {PHONE_WIDTH}px")
        page.set_viewport_size({"width": DESKTOP_WIDTH, "height": 900})
        page.screenshot(path=self.artifacts_dir / f"{name}-desktop.png", full_page=True)
        self.accessible(f"{name} at {DESKTOP_WIDTH}px")
        assert self.csp_violations == []

    def accessible(self, name):
        if not AXE.exists():
            requirement_missing("axe-core is not installed (npm ci --prefix tests/browser)")
        # evaluate() runs outside the page's CSP, which rightly refuses injected scripts.
        if not self.page.evaluate("typeof axe !== 'undefined'"):
            self.page.evaluate(AXE.read_text())
        violations = self.page.evaluate(
            "async () => (await axe.run(document, {resultTypes: ['violations']})).violations"
            ".map(v => ({id: v.id, impact: v.impact, nodes: v.nodes.map(n => n.target)}))"
        )
        serious = [v for v in violations if v["impact"] in ("serious", "critical")]
        assert serious == [], f"{name}: {serious}"


@pytest.fixture
def checks(page, artifacts_dir):
    return Checks(page, artifacts_dir)


def _web_events():
    """Changes made on the page: the person's own (source web) and, in a session a staff
    member's preferences link opened, that staff member's assisted changes (source admin)."""
    return list(
        SubscriptionEvent.objects.filter(source__in=[Source.WEB, Source.ADMIN]).order_by("id")
    )


def _sign_in_by_link(page, live_server):
    page.goto(live_server.url + links.preferences_link_path(PHONE))
    page.get_by_role("heading", name="Your text messages").wait_for()


def _ask_for_code(page, live_server):
    page.goto(f"{live_server.url}/preferences/")
    page.get_by_label("Your mobile number").fill("(555) 555-0101")
    page.get_by_role("button", name="Text me a code").click()
    page.get_by_role("heading", name="Enter your code").wait_for()


def _code_from_outbox():
    text = OutboundMessage.objects.get(phone=PHONE, purpose=MessagePurpose.ONE_TIME_CODE).text
    return re.search(r"\b(\d{6})\b", text).group(1)


def test_a_full_session_by_code(live_server, page, checks, programs):
    page.goto(f"{live_server.url}/preferences/")
    checks.page_ok("start")
    _ask_for_code(page, live_server)
    checks.page_ok("code")

    page.get_by_label("Code from the text message").fill(_code_from_outbox())
    page.keyboard.press("Enter")
    page.get_by_text("You are signed in.").wait_for()
    for brand in ("Acme", "Bistro Verde"):
        assert page.get_by_role("heading", name=brand, exact=True).is_visible()
    assert page.get_by_role("switch", name="Weekly deals").get_attribute("aria-checked") == "true"
    assert page.get_by_role("switch", name="VIP club").get_attribute("aria-checked") == "false"
    checks.page_ok("signed-in")

    page.get_by_role("button", name="Sign out").click()
    page.get_by_text("You are signed out.").wait_for()
    checks.page_ok("signed-out")
    page.goto(f"{live_server.url}/preferences/")
    assert page.get_by_role("heading", name="Manage the texts you get").is_visible()
    acme = programs["deals"].short_code
    assert selectors.sendable(PHONE, acme, programs["deals"]).sendable is True
    assert _web_events() == []


def test_a_session_by_signed_link(live_server, page, checks, programs):
    _sign_in_by_link(page, live_server)
    assert page.get_by_text(f"Signed in as {NATIONAL}.").is_visible()
    assert page.get_by_role("switch", name="Bistro menus").get_attribute("aria-checked") == "true"
    checks.page_ok("signed-in-by-link")
    assert selectors.sendable(PHONE, programs["bistro"].short_code).sendable is True
    assert _web_events() == []


def test_opting_out_of_one_program(live_server, page, checks, programs):
    _sign_in_by_link(page, live_server)
    switch = page.get_by_role("switch", name="Weekly deals")
    switch.focus()
    page.keyboard.press("Space")  # the switch is a real button: the keyboard works
    page.get_by_text("You left Weekly deals.").wait_for()
    assert page.get_by_role("switch", name="Weekly deals").get_attribute("aria-checked") == "false"
    checks.page_ok("left-one-program")

    deals, news = programs["deals"], programs["news"]
    assert selectors.sendable(PHONE, deals.short_code, deals).reason == Status.OPTED_OUT
    assert selectors.sendable(PHONE, news.short_code, news).sendable is True
    [event] = _web_events()
    # The link was issued by staff: the change is recorded as their assisted change.
    assert (event.source, event.detail.get("assisted_by")) == (Source.ADMIN, links.UNNAMED_ISSUER)
    assert (event.keyword, event.action, event.new_status, event.ip_address) == (
        deals,
        Action.OPT_OUT,
        Status.OPTED_OUT,
        "127.0.0.1",
    )
    assert event.consent_text == f"Stop texts about Weekly deals from Acme to {NATIONAL}."
    assert "Chrome" in event.user_agent


def test_stopping_a_whole_code(live_server, page, checks, programs):
    _sign_in_by_link(page, live_server)
    page.get_by_role("button", name="Stop all texts from 12345").click()
    page.get_by_text(f"Done: Acme will send no more texts from 12345 to {NATIONAL}.").wait_for()
    assert page.get_by_text("You stopped all texts from this number.").is_visible()
    checks.page_ok("stopped-a-code")

    acme, bistro = programs["deals"].short_code, programs["bistro"].short_code
    assert selectors.sendable(PHONE, acme).reason == "stopped"
    assert selectors.sendable(PHONE, bistro).sendable is True
    events = _web_events()
    assert [(e.action, e.keyword and e.keyword.word, e.new_status) for e in events] == [
        (Action.STOP_ALL, None, ""),
        (Action.STOP_ALL, "DEALS", Status.OPTED_OUT),
        (Action.STOP_ALL, "NEWS", Status.OPTED_OUT),
    ]
    assert {e.consent_text for e in events} == {
        f"Stop all texts from Acme on 12345 to {NATIONAL}, for every program."
    }


def test_rejoining_with_double_opt_in_completed_by_an_mo_yes(live_server, page, checks, programs):
    vip = programs["vip"]
    services.opt_in(PHONE, vip, Context(source="mo"))
    services.confirm(PHONE, vip.short_code, Context(source="mo"))
    services.opt_out(PHONE, vip, Context(source="mo"))  # was in, left: now joins again
    _sign_in_by_link(page, live_server)

    page.get_by_role("switch", name="VIP club").click()
    page.get_by_text("Reply Y to confirm VIP club: we are waiting for your reply.").wait_for()
    assert page.get_by_text("Waiting for your reply: text Y to 12345 to confirm.").is_visible()
    checks.page_ok("waiting-for-reply")
    assert selectors.sendable(PHONE, vip.short_code, vip).reason == Status.PENDING
    prompt = OutboundMessage.objects.get(purpose=MessagePurpose.DOUBLE_OPT_IN)
    assert (prompt.phone, prompt.text) == (
        PHONE,
        "Acme: reply Y to confirm VIP club. Msg&data rates may apply.",
    )

    services.confirm(PHONE, vip.short_code, Context(source="mo", raw_payload="Y"))
    page.reload()
    assert page.get_by_role("switch", name="VIP club").get_attribute("aria-checked") == "true"
    checks.page_ok("confirmed-by-text")
    assert selectors.sendable(PHONE, vip.short_code, vip).sendable is True
    [web] = _web_events()
    assert (web.keyword, web.action, web.old_status, web.new_status) == (
        vip,
        Action.OPT_IN,
        Status.OPTED_OUT,
        Status.PENDING,
    )
    assert web.consent_text.startswith("By joining, you agree to receive recurring automated")
    last = SubscriptionEvent.objects.filter(keyword=vip).order_by("-id").first()
    assert (last.source, last.action, last.new_status) == (
        Source.MO,
        Action.CONFIRM,
        Status.OPTED_IN,
    )


def test_a_wrong_code_five_times_needs_a_new_code(live_server, page, checks, programs):
    _ask_for_code(page, live_server)
    right = _code_from_outbox()
    wrong = f"{(int(right) + 1) % 10**6:06d}"
    for _ in range(5):
        page.get_by_label("Code from the text message").fill(wrong)
        page.get_by_role("button", name="Sign in").click()
        page.get_by_text("That code is not right.").wait_for()
    checks.page_ok("wrong-code")
    page.get_by_label("Code from the text message").fill(right)
    page.get_by_role("button", name="Sign in").click()
    page.get_by_text("Too many wrong codes. Ask for a new code.").wait_for()
    checks.page_ok("too-many-wrong-codes")

    page.goto(f"{live_server.url}/preferences/")
    assert page.get_by_role("heading", name="Manage the texts you get").is_visible()
    assert selectors.sendable(PHONE, programs["deals"].short_code).sendable is True
    assert _web_events() == []


def test_an_expired_link_does_not_sign_in(live_server, page, checks, programs):
    expired_at = signing.time.time() - links.DEFAULT_MAX_AGE - 60
    with mock.patch("django.core.signing.time.time", return_value=expired_at):
        path = links.preferences_link_path(PHONE)
    response = page.goto(live_server.url + path)
    assert response.status == 400
    assert page.get_by_role("heading", name="This link does not work").is_visible()
    checks.page_ok("expired-link")
    page.goto(f"{live_server.url}/preferences/")
    assert page.get_by_role("heading", name="Manage the texts you get").is_visible()
    assert selectors.sendable(PHONE, programs["deals"].short_code).sendable is True
    assert _web_events() == []


def test_spanish_from_the_browser_and_switched_to_english(
    live_server, browser, programs, artifacts_dir
):
    context = browser.new_context(locale="es-ES", viewport={"width": 1280, "height": 900})
    page = context.new_page()
    checks = Checks(page, artifacts_dir)
    page.goto(live_server.url + links.preferences_link_path(PHONE))
    assert page.get_by_role("heading", name="Sus mensajes de texto").is_visible()
    assert page.locator("html").get_attribute("lang") == "es"
    checks.page_ok("spanish")
    page.get_by_role("switch", name="Weekly deals").click()
    page.get_by_text("Salió de Weekly deals.").wait_for()
    [event] = _web_events()
    assert (
        event.consent_text == f"Dejar de recibir mensajes sobre Weekly deals de Acme en {NATIONAL}."
    )

    page.get_by_label("Idioma").select_option("en")  # the small script submits on change
    page.get_by_role("heading", name="Your text messages").wait_for()
    assert page.locator("html").get_attribute("lang") == "en"
    context.close()


def test_the_page_works_without_javascript(live_server, browser, programs, artifacts_dir):
    context = browser.new_context(
        java_script_enabled=False, viewport={"width": PHONE_WIDTH, "height": 812}
    )
    page = context.new_page()
    page.goto(f"{live_server.url}/preferences/")
    page.get_by_label("Your mobile number").fill(PHONE)
    page.get_by_role("button", name="Text me a code").click()
    page.get_by_label("Code from the text message").fill(_code_from_outbox())
    page.get_by_role("button", name="Sign in").click()
    page.get_by_role("switch", name="Acme news").click()
    page.get_by_text("You left Acme news.").wait_for()
    page.get_by_label("Language").select_option("es")
    page.get_by_role("button", name="Change").click()  # no script: the button submits
    page.get_by_role("heading", name="Sus mensajes de texto").wait_for()
    page.screenshot(path=artifacts_dir / "no-javascript-phone.png", full_page=True)
    news = programs["news"]
    assert selectors.sendable(PHONE, news.short_code, news).reason == Status.OPTED_OUT
    assert [(e.keyword, e.new_status) for e in _web_events()] == [(news, Status.OPTED_OUT)]
    context.close()
