"""reporting/certificate_render.py: the PDF read as its reader reads it (poppler: the text
on its pages and its attachment). The wording is printed exactly, codes are masked, the
number is on it, and the digest printed on the first page is the SHA-256 of the attached
HTML, which says what the pages say."""

import zoneinfo

import pytest
from django.utils import timezone

from subscriptions.consent import services
from subscriptions.consent.services import Context
from subscriptions.models import Contact, MessagePurpose, OutboundMessage, Source
from subscriptions.reporting import certificate
from subscriptions.reporting.certificate_render import ATTACHMENT_NAME, render_pdf, sha256_b64
from tests import poppler
from tests.factories import UserFactory
from tests.subscriptions.conftest import PHONE

pytestmark = pytest.mark.django_db

WORDING = "Yes, text me Acme deals. Up to 4 msgs/week. Msg & data rates may apply. Reply STOP."
CODE_TEXT = "Acme: your code for your text preferences is 482913. It expires in 10 minutes."


def flat(text):
    """Text with every run of whitespace made one space (a PDF wraps lines anywhere)."""
    return " ".join(text.split())


@pytest.fixture
def pdf(deals, news, code):
    services.opt_in(PHONE, deals, Context(source=Source.WEB, consent_text=WORDING))
    services.opt_out(
        PHONE,
        deals,
        Context(  # as the admin's actions make it (admin/actions.py admin_context)
            source=Source.ADMIN,
            actor=UserFactory(username="dana"),
            reason="Called us",
            detail={"reason": "Called us"},
        ),
    )
    OutboundMessage.objects.create(
        phone=PHONE,
        short_code=code,
        provider=code.provider,
        purpose=MessagePurpose.ONE_TIME_CODE,
        text=CODE_TEXT,
    )
    cert = certificate.build(
        Contact.objects.get(phone=PHONE),
        exported_by="dana",
        now=timezone.now(),
        time_zone=zoneinfo.ZoneInfo("America/Chicago"),
    )
    return render_pdf(cert)


def test_the_pages_carry_the_number_the_exact_wording_and_the_staff_reason(pdf):
    pages = flat(poppler.text(pdf))
    assert "Consent certificate" in pages
    assert "(555) 555-0100 (+15555550100)" in pages
    assert flat(WORDING) in pages
    assert "Called us" in pages
    assert "Opted in → Opted out" in pages
    assert "America/Chicago" in pages and (" CST" in pages or " CDT" in pages)
    assert "+00:00" not in pages


def test_the_pages_mask_one_time_codes(pdf):
    pages = flat(poppler.text(pdf))
    assert "482913" not in pages
    assert "preferences is ••••••. It expires" in pages


def test_the_printed_digest_is_that_of_the_attached_html(pdf):
    source = poppler.attachment(pdf, ATTACHMENT_NAME)
    assert source.lstrip().lower().startswith(b"<!doctype html>")
    pages = poppler.text(pdf)
    assert "Integrity: the SHA-256" in flat(pages)
    # The printed value may be wrapped over lines: compare without any whitespace.
    assert sha256_b64(source) in "".join(pages.split())
    html = source.decode("utf-8")
    assert WORDING.replace("&", "&amp;") in html and "482913" not in html


def test_a_changed_attachment_no_longer_matches_the_printed_digest(pdf):
    source = poppler.attachment(pdf, ATTACHMENT_NAME)
    tampered = source.replace(b"Called us", b"Asked us")
    assert tampered != source
    assert sha256_b64(tampered) not in "".join(poppler.text(pdf).split())
