"""The staff revocation queue in Chromium (issue 12): a `review` text appears with its
due_by, a staff user decides, the number is stopped (or released) and the history shows
who and why. The queue page is also checked with axe-core."""

from pathlib import Path

import pytest
from django.contrib.auth.models import Permission
from django.utils import formats, timezone

from subscriptions.consent import selectors, services
from subscriptions.consent.services import Context
from subscriptions.inbound import mo
from subscriptions.models import Revocation, Source
from tests.conftest import requirement_missing
from tests.factories import KeywordFactory, ShortCodeFactory, UserFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PHONE = "+16501112222"
AXE = Path(__file__).resolve().parent / "node_modules" / "axe-core" / "axe.min.js"
PERMS = [
    "view_revocation",
    "add_revocation",
    "decide_revocation",
    "view_contact",
    "view_subscriptionevent",
]


def staff_user():
    user = UserFactory(username="carol", is_staff=True)
    user.user_permissions.set(
        Permission.objects.filter(content_type__app_label="subscriptions", codename__in=PERMS)
    )
    return user


def sign_in(page, live_server):
    page.goto(f"{live_server.url}/admin/login/")
    page.fill("#id_username", "carol")
    page.fill("#id_password", "pw-for-tests")
    page.click("input[type=submit]")
    page.wait_for_url(f"{live_server.url}/admin/")


def accessible(page):
    if not AXE.exists():
        requirement_missing("axe-core is not installed (npm ci --prefix tests/browser)")
    page.evaluate(AXE.read_text())
    violations = page.evaluate(
        "async () => (await axe.run(document, {resultTypes: ['violations']})).violations"
        ".map(v => ({id: v.id, impact: v.impact}))"
    )
    assert [v for v in violations if v["impact"] in ("serious", "critical")] == []


@pytest.mark.parametrize(
    ("decision", "label", "reason"),
    [
        ("revoke", "Revoke", "stopped"),
        ("not_a_revocation", "Not a revocation", "opted_in"),
    ],
)
def test_staff_decide_a_review_from_the_queue(
    live_server, page, artifacts_dir, decision, label, reason
):
    code = ShortCodeFactory(code="12345", brand="Acme")
    deals = KeywordFactory(short_code=code, word="DEALS")
    services.opt_in(PHONE, deals, Context(source=Source.API))
    mo.handle_mo(mo.MoText(phone=PHONE, short_code=code, text="not interested in this"))
    revocation = Revocation.objects.get()
    assert selectors.sendable(PHONE, code).reason == "review"
    staff_user()

    sign_in(page, live_server)
    page.goto(f"{live_server.url}/admin/subscriptions/revocation/")
    row = page.locator("#result_list tbody tr").first
    row.get_by_text("not interested in this").wait_for()
    due = formats.date_format(timezone.localtime(revocation.due_by), "DATETIME_FORMAT")
    assert due in row.inner_text()
    assert "open" in row.inner_text()
    page.screenshot(path=artifacts_dir / "queue.png", full_page=True)
    accessible(page)

    row.locator("th a, td a").first.click()
    page.click("#decide")
    page.get_by_label(label).check()
    page.fill("#id_reason", f"call notes: {label.lower()}")
    page.click("#revocation-form input[type=submit]")
    page.get_by_text("Decision recorded.").wait_for()
    assert "by carol" in page.inner_text("body")
    page.screenshot(path=artifacts_dir / "decided.png", full_page=True)

    assert selectors.sendable(PHONE, code).reason == reason
    page.goto(f"{live_server.url}/admin/subscriptions/contact/{revocation.contact_id}/change/")
    timeline = page.locator("#timeline").inner_text()
    assert "Revocation review decided" in timeline
    assert f"call notes: {label.lower()}" in timeline and "carol" in timeline
    assert "Paused: may be a revocation" in timeline


def test_staff_record_a_phone_call(live_server, page):
    code = ShortCodeFactory(code="12345", brand="Acme")
    deals = KeywordFactory(short_code=code, word="DEALS")
    services.opt_in(PHONE, deals, Context(source=Source.API))
    staff_user()

    sign_in(page, live_server)
    page.goto(f"{live_server.url}/admin/subscriptions/revocation/")
    page.click("#record-revocation")
    page.fill("#id_phone", "650 111 2222")
    page.select_option("#id_channel", "phone_call")
    page.fill("#id_text", "Caller said: please stop texting me")
    page.click("#revocation-form input[type=submit]")
    page.get_by_text("Revocation recorded and applied to 12345.").wait_for()

    assert selectors.sendable(PHONE, code).reason == "stopped"
    assert Revocation.objects.get().recorded_by_label == "carol"
