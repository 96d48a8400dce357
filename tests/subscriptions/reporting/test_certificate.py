"""reporting/certificate.py: every time a certificate shows is in the export's time zone
(facts included, never a UTC ISO string), revocations appear with the person's words, and
no machine code reaches the reader."""

import csv
import io
import zoneinfo

import pytest
from django.utils import timezone

from subscriptions.consent import services
from subscriptions.consent.services import Context
from subscriptions.inbound import mo
from subscriptions.models import Contact, Revocation, Source, SubscriptionEvent
from subscriptions.reporting import certificate
from subscriptions.reporting.certificate_entries import TIME_FORMAT
from subscriptions.reporting.certificate_render import render_csv, render_html
from subscriptions.revocations import services as revocations
from tests.factories import UserFactory
from tests.subscriptions.conftest import PHONE

pytestmark = pytest.mark.django_db

NEW_YORK = zoneinfo.ZoneInfo("America/New_York")


def cert_of(tz=NEW_YORK):
    contact = Contact.objects.get(phone=PHONE)
    return certificate.build(contact, exported_by="dana", now=timezone.now(), time_zone=tz)


def shown(value, tz=NEW_YORK):
    return value.astimezone(tz).strftime(TIME_FORMAT)


@pytest.fixture
def joined(deals):
    services.opt_in(PHONE, deals, Context(source=Source.WEB, consent_text="Yes, deals."))
    return SubscriptionEvent.objects.get(contact__phone=PHONE)


def test_facts_that_are_times_are_shown_in_the_export_zone(joined):
    cert = cert_of()
    [event] = [e for e in cert.timeline if e.entry == "Consent event"]
    facts = dict(cert.facts(event))
    assert facts["Occurred at the source"] == shown(joined.occurred_at)
    html = render_html(cert).decode()
    body = render_csv(cert).decode()
    for text in (html, body):
        assert shown(joined.occurred_at) in text
        assert joined.occurred_at.isoformat() not in text  # the UTC ISO form is gone
        assert "+00:00" not in text


def test_the_same_certificate_in_utc_names_utc(joined):
    cert = cert_of(zoneinfo.ZoneInfo("UTC"))
    rows = list(csv.DictReader(io.StringIO(render_csv(cert).decode())))
    assert {row["time_zone"] for row in rows} == {"UTC"}
    assert all(row["at"].endswith(" UTC") for row in rows if row["at"])


def test_an_open_revocation_is_in_the_summary_with_its_due_date_in_the_zone(joined, code):
    mo.handle_mo(mo.MoText(phone=PHONE, short_code=code, text="not interested", message_id="r1"))
    revocation = Revocation.objects.get()
    cert = cert_of()
    [open_one] = cert.revocations
    assert (open_one.wording, open_one.status, open_one.short_code) == (
        "not interested",
        "Waiting for a staff decision",
        "12345",
    )
    assert dict(cert.facts(open_one))["Due by"] == shown(revocation.due_by)
    received = [e for e in cert.timeline if e.entry == "Revocation received"]
    assert [(e.wording, e.status) for e in received] == [("not interested", "May be a revocation")]
    assert shown(revocation.due_by) in render_html(cert).decode()
    # The event that paused sending says what the portal read, in words (no dict, no slug).
    rows = list(csv.DictReader(io.StringIO(render_csv(cert).decode())))
    [paused] = [r for r in rows if r["entry"] == "Consent event" and "Paused" in r["what"]]
    assert (
        "Read as a revocation: words matched: not interested; verdict: May be a revocation"
        in (paused["details"])
    )
    assert not any("{" in r["details"] or "'review'" in r["details"] for r in rows)


def test_a_decided_revocation_is_no_longer_open_and_its_decision_is_in_words(joined, code):
    mo.handle_mo(mo.MoText(phone=PHONE, short_code=code, text="not interested", message_id="r1"))
    revocations.decide(
        Revocation.objects.get().pk, "not_a_revocation", "Asked about prices", actor=UserFactory()
    )
    cert = cert_of()
    assert cert.revocations == []
    body = render_csv(cert).decode()
    assert "Staff decision: Not a revocation" in body
    assert "not_a_revocation" not in body


def test_a_revocation_by_phone_keeps_the_words_and_the_channel(joined, code):
    revocations.record_revocation(
        PHONE,
        channel="phone_call",
        text="She said: take me off your texts",
        ctx=Context(source=Source.ADMIN, actor=UserFactory(username="sam"), reason="call"),
        short_code=code,
    )
    cert = cert_of()
    [received] = [e for e in cert.timeline if e.entry == "Revocation received"]
    assert (received.what, received.wording, received.status) == (
        "Received by Phone call",
        "She said: take me off your texts",
        "Recorded by staff or an integration",
    )
    assert "Revoked by: Phone call" in render_csv(cert).decode()
    assert "phone_call" not in render_csv(cert).decode()


def test_the_contact_page_scope_keeps_revocations_of_its_code(joined, code):
    mo.handle_mo(mo.MoText(phone=PHONE, short_code=code, text="not interested", message_id="r1"))
    contact = Contact.objects.get(phone=PHONE)
    mine = certificate.timeline(contact, certificate.Scope(newest_first=True, code="12345"))
    other = certificate.timeline(contact, certificate.Scope(newest_first=True, code="99999"))
    assert any(e.entry == "Revocation received" for e in mine)
    assert not any(e.entry == "Revocation received" for e in other)
