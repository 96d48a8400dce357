"""contacts/{phone}/evidence/: the consent certificate in PDF, HTML and CSV, its digest and
who may have it (docs/evidence.md)."""

import base64
import csv
import hashlib
import io
import re
import zlib

import pytest
from django.contrib.auth.models import Group
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from subscriptions.consent import services
from subscriptions.consent.services import Context
from subscriptions.models import (
    Contact,
    MessagePurpose,
    OutboundMessage,
    ProviderCall,
    ProviderSync,
    SyncStatus,
)
from subscriptions.reporting.certificate_render import sha256_b64
from tests.factories import UserFactory
from tests.subscriptions.api.conftest import READ_ONLY_PERMS, token_client

PHONE = "+15555551212"
URL = f"/api/v1/contacts/{PHONE}/evidence/"
WORDING = "Yes, text me Acme deals. Up to 4 msgs/week. Msg & data rates may apply."
SNEAKY = '=HYPERLINK("http://evil.example")'


@pytest.fixture
def exporter(db):
    return token_client(*READ_ONLY_PERMS, "export_evidence")


@pytest.fixture
def history(code):
    join = code.keywords.get(word="JOIN")
    vip = code.keywords.get(word="VIP")
    services.opt_in(
        PHONE,
        join,
        Context(
            source="web", consent_text=WORDING, ip_address="203.0.113.9", user_agent="Firefox/140"
        ),
    )
    services.opt_in(PHONE, vip, Context(source="api", consent_text=SNEAKY))
    staff = UserFactory(username="dana")
    services.opt_out(
        PHONE,
        join,
        Context(
            source="admin",
            actor=staff,
            reason="Called support",
            detail={"reason": "Called support"},
        ),
    )
    contact = Contact.objects.get(phone=PHONE)
    message = OutboundMessage.objects.create(
        phone=PHONE,
        short_code=code,
        provider=code.provider,
        purpose=MessagePurpose.ONE_TIME_CODE,
        text="Acme: your code for your text preferences is 482913. It expires in 10 minutes.",
    )
    ProviderCall.objects.create(
        provider=code.provider,
        message=message,
        method="POST",
        url="https://example.invalid/sms",
        request_body='{"text": "your code is 482913"}',
        status_code=200,
        response_body='{"ok": true}',
    )
    ProviderSync.objects.create(
        contact=contact,
        short_code=code,
        provider=code.provider,
        status=SyncStatus.FAILED,
        attempts=3,
        last_error="HTTP 401",
    )
    return contact


def digest_of(response):
    match = re.fullmatch(r"sha-256=:([A-Za-z0-9+/=]+):", response["Repr-Digest"])
    assert match, response["Repr-Digest"]
    return base64.b64decode(match.group(1))


def csv_rows(response):
    return list(csv.DictReader(io.StringIO(response.content.decode())))


def test_csv_has_the_phone_on_every_row_human_labels_and_exact_wording(exporter, history):
    response = exporter.get(URL, {"format": "csv"})
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    rows = csv_rows(response)
    assert rows and all(row["phone"] == PHONE for row in rows)
    assert {row["section"] for row in rows} == {"summary", "timeline"}
    opt_in = next(r for r in rows if r["wording"] == WORDING)
    assert (opt_in["what"], opt_in["source"], opt_in["ip_address"], opt_in["user_agent"]) == (
        "Opt in: Applied",
        "Web (preferences page)",
        "203.0.113.9",
        "Firefox/140",
    )
    staff = next(r for r in rows if r["source"] == "Admin" and r["entry"] == "Consent event")
    assert staff["reason"] == "Called support" and staff["status"] == "Opted in → Opted out"
    assert "{" not in staff["details"]  # no raw JSON
    for slug in ("opt_in", "opted_out", "applied", "one_time_code"):
        assert slug not in response.content.decode()
    entries = {r["entry"] for r in rows}
    assert {"Current state", "Consent event", "Text sent", "Provider delivery"} <= entries
    assert "Provider answer" in entries


def test_csv_masks_one_time_codes_and_defuses_formulas(exporter, history):
    body = exporter.get(URL, {"format": "csv"}).content.decode()
    assert "482913" not in body
    assert "is •••••• It expires" not in body and "is ••••••. It expires" in body
    rows = csv_rows(exporter.get(URL, {"format": "csv"}))
    assert any(r["wording"] == "'" + SNEAKY for r in rows)
    assert not any(v.startswith("=") for r in rows for v in r.values())


@pytest.mark.parametrize("fmt", ["csv", "html", "pdf"])
def test_every_format_carries_the_digest_of_its_body(exporter, history, fmt):
    response = exporter.get(URL, {"format": fmt})
    assert response.status_code == 200
    assert digest_of(response) == hashlib.sha256(response.content).digest()


def test_default_format_is_pdf(exporter, history):
    response = exporter.get(URL)
    assert response["Content-Type"] == "application/pdf"
    assert response.content.startswith(b"%PDF-")
    assert 'filename="consent-certificate-15555551212.pdf"' in response["Content-Disposition"]


def test_html_has_the_header_summary_and_narrative_in_the_asked_time_zone(exporter, history):
    response = exporter.get(URL, {"format": "html", "tz": "America/New_York"})
    page = response.content.decode()
    assert "(555) 555-1212" in page and PHONE in page
    assert exporter.user.get_username() in page
    assert "America/New_York" in page and (" EST" in page or " EDT" in page)
    assert WORDING.replace("&", "&amp;") in page
    assert "Called support" in page
    assert re.search(r"Open revocations</h2>\s*<p class=\"none\">None recorded.", page)
    assert "482913" not in page
    assert page.index('id="state"') < page.index('id="timeline"')


def streams(pdf):
    """Every stream of the PDF, decompressed where it is."""
    for raw in re.findall(rb"stream\r?\n(.*?)\r?\nendstream", pdf, re.S):
        try:
            yield zlib.decompress(raw)
        except zlib.error:
            yield raw


def embedded_files(pdf):
    """The streams that are HTML documents (the attached source)."""
    return [s for s in streams(pdf) if s.lstrip().lower().startswith(b"<!doctype html>")]


def test_pdf_carries_its_html_source_and_prints_its_digest(exporter, history):
    pdf = exporter.get(URL, {"format": "pdf"}).content
    assert b"/EmbeddedFile" in pdf
    (source,) = embedded_files(pdf)
    assert WORDING.replace("&", "&amp;").encode() in source
    assert b"482913" not in source
    # Printed on the first page and kept in the PDF's Subject (page text is compressed glyphs).
    assert any(sha256_b64(source).encode() in s for s in [pdf, *streams(pdf)])
    assert b"Integrity: the SHA-256" not in source  # the attachment is the plain edition


def test_unknown_number_and_bad_format_are_json_errors_with_a_digest(exporter, code):
    missing = exporter.get("/api/v1/contacts/+15555550000/evidence/")
    assert missing.status_code == 404
    assert missing.json()["code"] == "not_found"
    assert digest_of(missing) == hashlib.sha256(missing.content).digest()
    Contact.objects.create(phone=PHONE)
    bad = exporter.get(URL, {"format": "docx"})
    assert bad.status_code == 400 and "format" in bad.json()


def test_a_token_without_the_permission_is_refused(reader, history):
    response = reader.get(URL, {"format": "csv"})
    assert response.status_code == 403
    assert response.json()["code"] == "permission_denied"


def group_client(name):
    user = UserFactory(is_staff=True)
    user.groups.add(Group.objects.get(name=name))
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=user).key}")
    return client


def test_compliance_may_export(history):
    assert group_client("Compliance").get(URL, {"format": "csv"}).status_code == 200


def test_marketing_may_export_only_when_the_setting_allows(history, settings):
    settings.PORTAL_MARKETING_EXPORTS_EVIDENCE = False
    assert group_client("Marketing").get(URL, {"format": "csv"}).status_code == 403
    settings.PORTAL_MARKETING_EXPORTS_EVIDENCE = True
    assert group_client("Marketing").get(URL, {"format": "csv"}).status_code == 200
