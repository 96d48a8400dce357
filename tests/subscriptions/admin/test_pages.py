"""Admin pages: lists at scale, phone search in any format, exports, timeline, dashboard,
imports."""

import csv
import io
from datetime import timedelta

import pytest
from django.core.cache import cache
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from subscriptions.admin.dashboard import dashboard_data, line_chart
from subscriptions.admin.scale import BoundedCountPaginator
from subscriptions.consent import services
from subscriptions.consent.services import Context
from subscriptions.models import (
    ActivityDay,
    Contact,
    DailyActivity,
    ImportJob,
    ProviderCall,
    ProviderSync,
    Subscription,
    SubscriptionEvent,
    SyncStatus,
)
from subscriptions.reporting.activity import close_days
from subscriptions.reporting.activity import live_from as _live_from
from tests.factories import KeywordFactory

pytestmark = pytest.mark.django_db
SUBS = "/admin/subscriptions/subscription/"


def rows_of(response):
    return list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))


@pytest.mark.parametrize(
    "typed", ["+15555551212", "15555551212", "(555) 555-1212", "555.555.1212", " 5555551212 "]
)
def test_search_finds_the_number_in_any_format(client, marketing, member, typed):
    services.opt_in("+15555550000", Subscription.objects.first().keyword, Context(source="mo"))
    page = client.get(SUBS, {"q": typed})
    assert sorted(str(s.contact) for s in page.context["cl"].result_list) == [member, member]
    contacts = client.get("/admin/subscriptions/contact/", {"q": typed})
    assert [c.phone for c in contacts.context["cl"].result_list] == [member]


def test_search_for_text_that_is_no_phone_finds_nothing_without_error(client, marketing, member):
    page = client.get(SUBS, {"q": "hello"})
    assert page.status_code == 200
    assert list(page.context["cl"].result_list) == []


def test_filters_by_status_code_keyword_source_and_date(client, marketing, member, deals, news):
    services.opt_out(member, news, Context(source="web"))

    def phones_words(**params):
        cl = client.get(SUBS, params).context["cl"]
        return sorted(s.keyword.word for s in cl.result_list)

    assert phones_words(status__exact="opted_out") == ["NEWS"]
    assert phones_words(keyword__id__exact=deals.pk) == ["DEALS"]
    assert phones_words(last_source__exact="web") == ["NEWS"]
    assert phones_words(short_code__id__exact=deals.short_code_id) == ["DEALS", "NEWS"]
    # The admin's date filter links carry the time zone, as here.
    today = timezone.localtime().replace(hour=0, minute=0, second=0, microsecond=0)
    assert phones_words(changed_at__gte=str(today)) == ["DEALS", "NEWS"]
    assert phones_words(changed_at__gte=str(today + timedelta(days=1))) == []


def test_csv_export_follows_the_filters_on_screen(client, compliance, member, news):
    services.opt_out(member, news, Context(source="web"))
    export = client.get(f"{SUBS}export.csv", {"status__exact": "opted_out"})
    assert export["Content-Disposition"] == 'attachment; filename="subscriptions.csv"'
    rows = rows_of(export)
    assert rows[0] == [
        "phone",
        "short_code",
        "keyword",
        "status",
        "changed_at",
        "last_source",
        "last_occurred_at",
    ]
    assert [[*r[:4], r[5]] for r in rows[1:]] == [[member, "12345", "NEWS", "opted_out", "web"]]
    page = client.get(SUBS, {"status__exact": "opted_out"})
    assert b"export.csv?status__exact=opted_out" in page.content


def test_contact_page_shows_the_state_first_then_the_timeline(client, compliance, member, news):
    services.opt_out(
        member,
        news,
        Context(
            source="web", ip_address="203.0.113.9", user_agent="Firefox", consent_text="Leave NEWS"
        ),
    )
    contact = Contact.objects.get(phone=member)
    url = f"/admin/subscriptions/contact/{contact.pk}/change/"
    page = client.get(url, {"tz": "America/Chicago"}).content.decode()
    assert page.count("portal-entry-consent-event") == 3  # three history rows
    assert page.index('id="current-state"') < page.index('id="timeline"')
    for text in [
        "203.0.113.9",
        "Firefox",
        "<details><summary>Consent text shown</summary><blockquote>Leave NEWS</blockquote>",
        "Opted in → Opted out",
        "Opt out: Applied",
        "DEALS",
        "(555) 555-1212",
        "America/Chicago",
        "certificate/?format=pdf",
        "evidence.csv",
    ]:
        assert text in page, text
    assert " CST" in page or " CDT" in page
    assert "opted_in" not in page


def test_contact_page_and_certificate_use_the_browsers_zone(client, compliance, member):
    """time_zone.js stores the zone URL-encoded, as document.cookie needs it."""
    contact = Contact.objects.get(phone=member)
    client.cookies["portal_tz"] = "America%2FDenver"
    page = client.get(f"/admin/subscriptions/contact/{contact.pk}/change/").content.decode()
    assert '<strong id="time-zone">America/Denver</strong>' in page
    assert " MST" in page or " MDT" in page
    url = f"/admin/subscriptions/contact/{contact.pk}/certificate/?format=csv"
    rows = client.get(url).content.decode().splitlines()[1:]
    assert rows and all(",America/Denver," in row for row in rows)


def test_contact_timeline_filters_by_program(client, compliance, member, news, deals):
    contact = Contact.objects.get(phone=member)
    url = f"/admin/subscriptions/contact/{contact.pk}/change/"
    page = client.get(url, {"program": news.pk}).content.decode()
    assert page.count("portal-entry-consent-event") == 1
    assert "(NEWS) on 12345" in page.split('id="timeline"')[1]
    assert client.get(url, {"code": "99999"}).status_code == 200  # unknown code: no filter


def test_contact_certificate_from_the_admin(client, compliance, member):
    contact = Contact.objects.get(phone=member)
    response = client.get(f"/admin/subscriptions/contact/{contact.pk}/certificate/?format=html")
    assert response.status_code == 200
    assert response["Repr-Digest"].startswith("sha-256=:")
    assert "Consent certificate" in response.content.decode()


def test_marketing_sees_no_certificate_by_default(client, marketing, member):
    contact = Contact.objects.get(phone=member)
    page = client.get(f"/admin/subscriptions/contact/{contact.pk}/change/").content.decode()
    assert "certificate/?format" not in page
    url = f"/admin/subscriptions/contact/{contact.pk}/certificate/"
    assert client.get(url).status_code == 403


def test_marketing_gets_the_certificate_while_the_setting_allows(
    client, marketing, member, settings
):
    contact = Contact.objects.get(phone=member)
    url = f"/admin/subscriptions/contact/{contact.pk}/certificate/"
    settings.PORTAL_MARKETING_EXPORTS_EVIDENCE = True
    assert client.get(url, {"format": "csv"}).status_code == 200
    page = client.get(f"/admin/subscriptions/contact/{contact.pk}/change/").content.decode()
    assert "certificate/?format=pdf" in page
    settings.PORTAL_MARKETING_EXPORTS_EVIDENCE = False  # taken back at once
    assert client.get(url, {"format": "csv"}).status_code == 403


def test_evidence_export_has_the_complete_timeline_with_provider_activity(
    client, compliance, member, code
):
    contact = Contact.objects.get(phone=member)
    services.stop_all(
        member,
        code,
        Context(
            source="web", ip_address="198.51.100.7", user_agent="Safari", consent_text="Stop all"
        ),
    )
    sync = ProviderSync.objects.create(
        contact=contact,
        short_code=code,
        provider=code.provider,
        status=SyncStatus.FAILED,
        attempts=3,
        last_error="HTTP 401",
    )
    ProviderCall.objects.create(
        provider=code.provider,
        sync=sync,
        method="POST",
        url="https://example.invalid/sms",
        request_body='{"k": "***"}',
        status_code=401,
        response_body="denied",
    )
    rows = rows_of(client.get(f"/admin/subscriptions/contact/{contact.pk}/evidence.csv"))
    header, body = rows[0], rows[1:]
    kinds = [r[header.index("kind")] for r in body]
    assert kinds.count("history") == SubscriptionEvent.objects.filter(contact=contact).count() == 5
    assert "provider sync" in kinds and "provider call" in kinds
    stop = next(
        r
        for r in body
        if r[header.index("action")] == "stop_all" and r[header.index("keyword")] == ""
    )
    assert (
        stop[header.index("ip_address")],
        stop[header.index("user_agent")],
        stop[header.index("consent_text")],
        stop[header.index("source")],
    ) == ("198.51.100.7", "Safari", "Stop all", "web")
    call = next(r for r in body if r[header.index("kind")] == "provider call")
    assert (call[header.index("outcome")], call[header.index("request")]) == ("401", '{"k": "***"}')
    assert [r[0] for r in body] == sorted(r[0] for r in body)


def test_dashboard_counts_per_day_per_code_and_program_and_sync_health(
    client, marketing, member, code, news, django_capture_on_commit_callbacks
):
    cache.clear()
    with django_capture_on_commit_callbacks(execute=True):  # delivered, as after a commit
        services.opt_out(member, news, Context(source="web"))
        services.stop_all("+15555550007", code, Context(source="mo"))
    ProviderSync.objects.create(
        contact=Contact.objects.get(phone=member),
        short_code=code,
        provider=code.provider,
        status=SyncStatus.LOCAL_ONLY,
    )
    data = dashboard_data()
    titles = {
        chart.title: {line.name: line.total for line in chart.lines} for chart in data["charts"]
    }
    assert titles["12345 (all programs)"] == {"opt-ins": 2, "opt-outs": 1, "STOPs": 1}
    assert titles["12345 · NEWS"] == {"opt-ins": 1, "opt-outs": 1}
    assert {(r["word"], r["opted_in"], r["opted_out"]) for r in data["counts"]} == {
        ("DEALS", 1, 0),
        ("NEWS", 0, 1),
    }
    undelivered = ProviderSync.objects.filter(status=SyncStatus.PENDING).count()  # fixtures'
    assert data["sync_health"] == [
        {"provider": code.provider.name, "pending": undelivered, "failed": 0, "local_only": 1}
    ]
    page = client.get("/admin/dashboard/").content.decode()
    assert page.count("<polyline") == 3 + 2 + 2
    assert "<strong>12345 · NEWS</strong>: 1 opt-in, 1 opt-out" in page
    kpis = {k.key: k.value for k in data["kpis"]}
    # 2 opt-ins - 1 opt-out; audience = 1 opted in now + 1 left; 1 STOP; nothing pending.
    assert kpis == {
        "net-growth": "+1",
        "opt-out-rate": "50.0%",
        "stop-rate": "50.0%",
        "pending": "0",
    }
    assert 'id="kpi-net-growth"' in page
    export = client.get("/admin/dashboard/", {"days": 7, "format": "csv"})
    rows = rows_of(export)
    assert rows[0] == ["day", "short_code", "program", "series", "count"]
    assert len(rows) == 1 + 7 * (3 + 2 + 2)
    assert sum(int(r[4]) for r in rows[1:] if r[2] == "NEWS" and r[3] == "opt-outs") == 1
    assert 'href="/admin/dashboard/"' in client.get("/admin/").content.decode()


def test_closed_days_are_summed_once_and_read_from_the_roll_up(member, code, news):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    services.opt_out(member, news, Context(source="web"))
    services.stop_all("+15555550007", code, Context(source="mo"))
    three_days_later = timezone.now() + timedelta(days=3)

    def totals(data):
        return {
            chart.title: {line.name: line.total for line in chart.lines} for chart in data["charts"]
        }

    live = totals(dashboard_data())  # today: counted from the history
    assert live["12345 (all programs)"] == {"opt-ins": 2, "opt-outs": 1, "STOPs": 1}
    assert not DailyActivity.objects.exists()  # the earlier, empty days are closed

    # A page only reads: a closed day the schedule has not reached is counted from the
    # history, and nothing is written.
    assert totals(dashboard_data(now=three_days_later)) == live
    assert not ActivityDay.objects.exists()

    assert close_days(now=three_days_later)  # the schedule (manage.py close_activity_days)
    assert close_days(now=three_days_later) == []  # once
    assert totals(dashboard_data(now=three_days_later)) == live  # now from the roll-up
    rolled_up = ActivityDay.objects.count()
    assert timezone.localdate() in set(ActivityDay.objects.values_list("day", flat=True))
    assert set(DailyActivity.objects.values_list("keyword__word", "series", "count")) == {
        (None, "STOPs", 1),
        ("DEALS", "opt-ins", 1),
        ("NEWS", "opt-ins", 1),
        ("NEWS", "opt-outs", 1),
    }

    with CaptureQueriesContext(connection) as queries:
        assert totals(dashboard_data(now=three_days_later)) == live
    history_reads = [q["sql"] for q in queries if "subscriptions_subscriptionevent" in q["sql"]]
    assert len(history_reads) == 1  # the live days only
    assert ActivityDay.objects.count() == rolled_up


def test_a_day_closes_an_hour_after_midnight():
    midnight = timezone.make_aware(timezone.datetime(2026, 11, 22))
    assert _live_from(midnight + timedelta(minutes=30)) == midnight - timedelta(days=1)
    assert _live_from(midnight + timedelta(minutes=61)) == midnight


def test_line_chart_scales_points_to_the_peak():
    chart = line_chart("t", ["d1", "d2", "d3"], {"opt-ins": [0, 4, 2]})
    xs_ys = [tuple(map(float, p.split(","))) for p in chart.lines[0].points.split()]
    assert [y for _, y in xs_ys] == [chart.bottom, chart.pad, (chart.bottom + chart.pad) / 2]
    assert (chart.peak, chart.lines[0].total) == (4, 6)


def test_dashboard_needs_staff(client, member):
    assert client.get("/admin/dashboard/").status_code == 302


def test_bounded_paginator_counts_at_most_its_limit(member, monkeypatch):
    monkeypatch.setattr(BoundedCountPaginator, "COUNT_LIMIT", 1)
    paginator = BoundedCountPaginator(Subscription.objects.order_by("pk"), 100)
    assert paginator.count >= 2
    news = Subscription.objects.filter(keyword__word="NEWS").order_by("pk")
    assert BoundedCountPaginator(news, 100).count == 1


def test_changelists_run_a_bounded_number_of_queries(
    client, marketing, member, django_assert_max_num_queries, code
):
    for n in range(30):
        services.opt_in(f"+1555444{n:04d}", KeywordFactory(short_code=code), Context(source="mo"))
    for url in [SUBS, "/admin/subscriptions/subscriptionevent/", "/admin/subscriptions/contact/"]:
        with django_assert_max_num_queries(12):
            assert client.get(url).status_code == 200


def test_upload_creates_a_job_and_its_page_polls_the_status(
    client, marketing, deals, settings, tmp_path, on_commit
):
    settings.MEDIA_ROOT = tmp_path
    data = (
        b"phone,short_code,keyword,status\n+15555550001,12345,DEALS,Active\nx,12345,DEALS,Active\n"
    )
    with on_commit():
        response = client.post(
            "/admin/subscriptions/importjob/add/",
            {"file": SimpleUploadedFile("spring.csv", data), "dry_run": ""},
        )
    job = ImportJob.objects.get()
    assert response["Location"] == f"/admin/subscriptions/importjob/{job.pk}/change/"
    page = client.get(response["Location"]).content.decode()
    assert f'data-status-url="/admin/subscriptions/importjob/{job.pk}/status/"' in page
    assert "subscriptions/import_progress.js" in page
    status = client.get(f"/admin/subscriptions/importjob/{job.pk}/status/").json()
    assert {
        k: status[k] for k in ("status", "total", "processed", "applied", "errors", "percent")
    } == {"status": "done", "total": 2, "processed": 2, "applied": 1, "errors": 1, "percent": 100}
    errors = rows_of(client.get(f"/admin/subscriptions/importjob/{job.pk}/errors.csv"))
    assert errors[1][0] == "3"
    assert SubscriptionEvent.objects.get().actor_label == "spring.csv"


def test_upload_without_a_file_shows_the_form_again(client, marketing):
    response = client.post("/admin/subscriptions/importjob/add/", {})
    assert response.status_code == 200
    assert b"This field is required" in response.content
    assert not ImportJob.objects.exists()
