"""Issue 18 in real Chromium at 375 and 1280 px: the consent certificate (its PDF rendered to
images by poppler's pdftoppm and shown in the browser, and its HTML edition), the contact page
in the staff member's time zone, the provider form with a connection test against a fake
SkyCore, the dashboard and the admin lists. Each page passes axe-core (no serious or critical
violations), has no horizontal overflow at 375 px and no CSP violation. Screenshots go to
test-artifacts/<test name>/ (tests/conftest.py artifacts_dir); the assertions are on the page
or on the PDF's text, never on pixels."""

import base64

import pytest
from django.apps import apps
from django.contrib.auth.models import Group
from django.core.management import call_command
from django.test import Client
from playwright.sync_api import expect

from subscriptions.consent import services
from subscriptions.consent.services import Context
from subscriptions.models import (
    Contact,
    Drift,
    DriftAction,
    Held,
    MessagePurpose,
    OutboundMessage,
    ProviderAccount,
    ProviderCall,
    ProviderKind,
    ProviderSync,
    Reconciliation,
    ShortCode,
    SyncStatus,
)
from subscriptions.preferences import links
from subscriptions.reporting.certificate_render import repr_digest
from subscriptions.staff_groups import sync_groups
from tests import poppler
from tests.browser.test_preferences import Checks
from tests.factories import KeywordFactory, ProviderAccountFactory, ShortCodeFactory, UserFactory
from tests.fakes import FakeSkyCore

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PHONE = "+15555550101"
WORDING = "Yes, text me Acme deals. Up to 4 msgs/month. Msg & data rates may apply."


@pytest.fixture
def checks(page, artifacts_dir):
    return Checks(page, artifacts_dir)


@pytest.fixture
def history():
    code = ShortCodeFactory(code="12345", brand="Acme")
    deals = KeywordFactory(short_code=code, word="DEALS", title="Weekly deals")
    news = KeywordFactory(short_code=code, word="NEWS", title="Acme news")
    web = Context(
        source="web", consent_text=WORDING, ip_address="203.0.113.9", user_agent="Firefox/140"
    )
    services.opt_in(PHONE, deals, web)
    services.opt_in(PHONE, news, Context(source="mo"))
    staff = UserFactory(username="dana")
    services.opt_out(
        PHONE,
        news,
        Context(  # as the admin's actions make it (admin/actions.py admin_context)
            source="admin",
            actor=staff,
            reason="Asked on the phone",
            detail={"reason": "Asked on the phone"},
        ),
    )
    OutboundMessage.objects.create(
        phone=PHONE,
        short_code=code,
        provider=code.provider,
        purpose=MessagePurpose.ONE_TIME_CODE,
        text="Acme: your code for your text preferences is 482913. It expires in 10 minutes.",
    )
    ProviderSync.objects.create(
        contact=Contact.objects.get(phone=PHONE),
        short_code=code,
        provider=code.provider,
        status=SyncStatus.FAILED,
        attempts=3,
        last_error="SkyCore E104: Authentication failed " * 3,
    )
    return Contact.objects.get(phone=PHONE)


def signed_in_staff(page, live_server, group=None, **fields):
    user = UserFactory(is_staff=True, **fields)
    if group:
        sync_groups(apps)  # a transactional test's flush took the migration's groups away
        user.groups.add(Group.objects.get(name=group))
    client = Client()
    client.force_login(user)
    page.context.add_cookies(
        [{"name": "sessionid", "value": client.cookies["sessionid"].value, "url": live_server.url}]
    )
    return user


def pdf_viewer(name, pages):
    """A page that shows a PDF as its reader sees it: each page as pdftoppm drew it."""
    count = len(pages)
    images = "".join(
        f'<img src="data:image/png;base64,{base64.b64encode(png).decode()}" '
        f'alt="Page {n} of {count} of {name}">'
        for n, png in enumerate(pages, start=1)
    )
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{name}</title><style>"
        "body { margin: 0; background: #525659; font-family: sans-serif; }"
        "main { padding: 8px; } h1 { color: #fff; font-size: 1rem; margin: 0 0 8px; }"
        "img { display: block; max-width: 100%; height: auto; margin: 0 auto 12px;"
        " background: #fff; box-shadow: 0 1px 4px #000; }"
        f"</style></head><body><main><h1>{name}: {count} page(s), drawn by pdftoppm</h1>"
        f"{images}</main></body></html>"
    )


def certificate_url(live_server, contact, fmt):
    return (
        f"{live_server.url}/admin/subscriptions/contact/{contact.pk}/certificate/"
        f"?format={fmt}&tz=America/New_York"
    )


def test_the_certificate_pdf_as_its_reader_sees_it(live_server, page, checks, history):
    signed_in_staff(page, live_server, "Compliance")
    # A bound, not a timing: weasyprint takes a while on a loaded 2-core machine.
    answer = page.request.get(certificate_url(live_server, history, "pdf"), timeout=180_000)
    pdf = answer.body()
    assert answer.headers["content-type"] == "application/pdf" and pdf.startswith(b"%PDF")
    assert answer.headers["repr-digest"] == repr_digest(pdf)
    text = " ".join(poppler.text(pdf).split())
    assert "(555) 555-0101 (+15555550101)" in text and WORDING in text
    assert "Asked on the phone" in text and "482913" not in text
    assert "America/New_York" in text and "+00:00" not in text

    pages = poppler.pages_as_png(pdf)
    page.set_content(pdf_viewer("consent-certificate-15555550101.pdf", pages))
    images = page.get_by_role("img")
    expect(images).to_have_count(len(pages))
    drawn = images.evaluate_all("all => all.every(i => i.complete && i.naturalWidth > 600)")
    assert drawn  # every page decoded, at print resolution
    checks.page_ok("certificate-pdf")


def test_the_certificate_html(live_server, page, checks, history):
    signed_in_staff(page, live_server, "Compliance")
    page.goto(certificate_url(live_server, history, "html"))
    assert page.get_by_role("heading", name="Consent certificate").is_visible()
    assert page.get_by_text("(555) 555-0101 (+15555550101)").is_visible()
    assert page.get_by_text(WORDING).first.is_visible()
    assert page.get_by_text("Asked on the phone").first.is_visible()
    assert "482913" not in page.content() and "+00:00" not in page.content()
    checks.page_ok("certificate-html")


def test_the_contact_page(live_server, browser, history, artifacts_dir):
    # A staff member in Los Angeles: the page speaks their time, whatever the server's.
    context = browser.new_context(
        timezone_id="America/Los_Angeles", viewport={"width": 1280, "height": 900}
    )
    page = context.new_page()
    checks = Checks(page, artifacts_dir)
    signed_in_staff(page, live_server, "Compliance")
    page.goto(f"{live_server.url}/admin/subscriptions/contact/{history.pk}/change/")
    state = page.get_by_role("heading", name="Current state")
    timeline = page.get_by_role("heading", name="Timeline, newest first")
    assert state.bounding_box()["y"] < timeline.bounding_box()["y"]
    # The browser's time zone reached the server (time_zone.js): reload to use it.
    page.reload()
    assert page.locator("#time-zone").inner_text() == "America/Los_Angeles"
    stamps = page.locator("#timeline time").all_inner_texts()
    assert stamps and all(t.endswith((" PST", " PDT")) for t in stamps)
    facts = page.locator("#timeline .portal-facts").all_inner_texts()
    assert any("Occurred at the source" in f for f in facts)
    assert "+00:00" not in page.content() and " UTC" not in " ".join(stamps)
    consent = page.locator("details").filter(has_text=WORDING).first
    assert not consent.locator("blockquote").is_visible()
    consent.locator("summary").click()
    assert consent.locator("blockquote").is_visible()
    checks.page_ok("contact")
    page.get_by_label("Program").select_option(label="Acme news (NEWS on 12345)")
    page.get_by_role("button", name="Filter").click()
    page.wait_for_url("**program=*")
    programs = page.locator("#timeline .portal-entry-consent-event").all_inner_texts()
    assert programs and all("(NEWS)" in text or "All programs" in text for text in programs)
    checks.page_ok("contact-filtered")
    context.close()


def test_the_provider_form_and_a_connection_test(live_server, page, checks):
    signed_in_staff(page, live_server, is_superuser=True)
    with FakeSkyCore(api_key="sky-key-123") as sky:
        account = ProviderAccountFactory(
            kind=ProviderKind.SKYCORE, name="SkyCore main", settings={"api_url": sky.api_url}
        )
        account.set_secrets({"api_key": "sky-key-123"})
        account.save()
        page.goto(f"{live_server.url}/admin/subscriptions/provideraccount/{account.pk}/change/")
        assert page.get_by_label("API key").get_attribute("type") == "password"
        assert page.get_by_label("Client secret").count() == 0  # another kind's secret
        assert account.postback_token in page.get_by_label("Postback URL").input_value()
        page.get_by_role("button", name="Copy").click()
        page.get_by_text("Selected: press Ctrl+C").or_(page.get_by_text("Copied")).wait_for()
        checks.page_ok("provider-form")
        page.get_by_role("button", name="Test connection").click()
        page.get_by_text("Connection test passed: SkyCore accepted the API key").wait_for()
        assert len(sky.requests) == 1 and sky.state == {}
    assert ProviderCall.objects.filter(provider=account).count() == 1
    checks.page_ok("provider-connection-tested")


def test_the_dashboard(live_server, page, checks):
    call_command("seed_demo")  # a month of demo activity, a pending confirmation, a review
    demo = Contact.objects.get(phone="+15555550101")
    run = Reconciliation.objects.create(provider=ProviderAccount.objects.get(), dry_run=True)
    Drift.objects.create(  # a provider found holding a number in that the portal has out
        reconciliation=run,
        contact=demo,
        short_code=ShortCode.objects.get(code="12345"),
        portal=Held.OUT,
        provider=Held.IN,
        action=DriftAction.REPORTED,
    )
    signed_in_staff(page, live_server, "Compliance")
    page.goto(f"{live_server.url}/admin/dashboard/")
    tiles = ("Net growth", "Opt-out rate", "STOP rate", "Pending confirmations")
    for tile in (*tiles, "Revocations due", "Drift found"):
        assert page.locator(".dash-kpi-label", has_text=tile).is_visible()
    assert page.locator("#kpi-revocations-due .dash-kpi-value").inner_text() == "1"
    assert page.locator("#kpi-drift-found .dash-kpi-value").inner_text() == "1"
    expect(page.locator("#kpi-drift-found a")).to_have_attribute(
        "href", "/admin/subscriptions/drift/"
    )
    chart = page.locator(".dash-chart svg").first
    for width, height in ((375, 812), (1280, 900)):
        page.set_viewport_size({"width": width, "height": height})
        assert chart.bounding_box()["width"] <= width
        # Axis labels a person can read at either width (the SVG scales with its box).
        label = page.locator(".dash-chart .tick").first.bounding_box()["height"]
        assert label >= 9, (width, label)
    assert page.locator(".dash-chart").first.locator(".tick").count() >= 5  # y and x axes
    totals = page.locator(".dash-chart figcaption").first.inner_text()
    assert "opt-ins" in totals and "opt-outs" in totals
    page.get_by_label("Period").select_option("7")
    page.get_by_role("button", name="Show").click()
    page.wait_for_url("**days=7*")
    checks.page_ok("dashboard")
    csv = page.request.get(f"{live_server.url}/admin/dashboard/?days=7&format=csv")
    assert csv.headers["content-type"].startswith("text/csv")
    assert csv.text().splitlines()[0] == "day,short_code,program,series,count"


@pytest.mark.parametrize(
    "path",
    [
        "/admin/subscriptions/providersync/",
        "/admin/subscriptions/subscription/",
        "/admin/subscriptions/importjob/",
    ],
)
def test_admin_lists_fit_1280_px_with_the_sidebar_open(live_server, page, history, path):
    signed_in_staff(page, live_server, is_superuser=True)
    page.goto(live_server.url + path)
    assert page.locator("#nav-sidebar").is_visible()
    fits = page.evaluate(
        "() => { const r = document.querySelector('.results');"
        " return !r || r.scrollWidth <= r.clientWidth; }"
    )
    assert fits, path
    breadcrumbs = page.locator("nav[aria-label=Breadcrumbs] ol.breadcrumbs")
    assert breadcrumbs.count() == 1


LOGO = (
    '<svg xmlns="http://www.w3.org/2000/svg" width="120" height="40" viewBox="0 0 120 40">'
    '<rect width="120" height="40" rx="6" fill="#0b5cad"/>'
    '<text x="60" y="27" font-family="sans-serif" font-size="20" fill="#fff" '
    'text-anchor="middle">ACME</text></svg>'
)


def test_the_branded_preferences_page_after_a_change(live_server, page, checks):
    acme = ShortCodeFactory(
        code="12345",
        brand="Acme",
        brand_color="#0b5cad",
        logo_url="https://acme.example.com/logo.svg",
        terms_url="https://acme.example.com/terms",
        privacy_url="https://acme.example.com/privacy",
        support_url="https://acme.example.com/help",
    )
    # The brand's logo is served by the test (no network): the page loads it like any https.
    page.route(acme.logo_url, lambda route: route.fulfill(content_type="image/svg+xml", body=LOGO))
    deals = KeywordFactory(short_code=acme, word="DEALS", title="Weekly deals")
    for word in ("NEWS", "TIPS", "EVENTS", "RECIPES"):
        KeywordFactory(short_code=acme, word=word, title=f"Acme {word.lower()}")
    vip = KeywordFactory(short_code=acme, word="VIP", title="VIP club", double_opt_in=True)
    services.opt_in(PHONE, deals, Context(source="mo"))
    page.goto(live_server.url + links.preferences_link_path(PHONE))
    assert page.get_by_text("Signed in as (555) 555-0101.").is_visible()
    band = page.locator(f"#code-{acme.pk} .brand-band")
    assert band.evaluate("b => getComputedStyle(b).backgroundColor") == "rgb(11, 92, 173)"
    assert page.locator(".brand-logo").evaluate("i => i.complete && i.naturalWidth > 0")
    for width in (375, 1280):
        page.set_viewport_size({"width": width, "height": 812 if width == 375 else 900})
        page.goto(f"{live_server.url}/preferences/")
        switch = page.get_by_role("switch", name="VIP club")
        if switch.get_attribute("aria-checked") == "true":  # joined at the other width
            switch.click()
            left = page.locator(f"#program-{vip.pk} .notices-beside")
            expect(left).to_have_text("You left VIP club. You will get no more texts about it.")
            expect(left).to_be_focused()
            switch = page.get_by_role("switch", name="VIP club")
        switch.click()
        notice = page.locator(f"#program-{vip.pk} .notices-beside")
        notice.wait_for()
        assert "we are waiting for your reply" in notice.inner_text()
        # Announced: a status region that takes the focus (a screen reader reads it at once,
        # a keyboard continues from it), wholly in view, and the switch used in view too.
        expect(notice).to_have_attribute("role", "status")
        expect(notice).to_be_focused()
        expect(notice).to_be_in_viewport(ratio=1)
        expect(page.locator(f"#program-{vip.pk} .switch")).to_be_in_viewport()
        assert page.get_by_role("switch", name="VIP club").inner_text().strip() == "Pending"
        page.screenshot(path=checks.artifacts_dir / f"branded-after-change-{width}.png")
        checks.accessible(f"branded-after-change-{width}")
    assert page.get_by_role("link", name="Privacy policy").is_visible()
    news = page.locator(".program", has_text="Acme news").locator(".wording").inner_text()
    assert "Message frequency varies." in news and "Terms: https://acme.example.com/terms" in news
    checks.page_ok("branded-preferences")
