"""The two staff groups: Marketing runs programs; Compliance reads and exports, changes
nothing. Groups come from migration 0006."""

import pytest
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.contrib.auth.models import Group
from django.core.files.uploadedfile import SimpleUploadedFile

from subscriptions.models import (
    Contact,
    ImportJob,
    Keyword,
    ProviderSync,
    ShortCode,
    Status,
    Subscription,
    SubscriptionEvent,
    SyncStatus,
)
from subscriptions.staff_groups import GROUPS

pytestmark = pytest.mark.django_db


def test_migration_created_both_groups_with_exactly_their_permissions():
    for name, codenames in GROUPS.items():
        granted = set(Group.objects.get(name=name).permissions.values_list("codename", flat=True))
        assert granted == set(codenames)
    compliance = set(GROUPS["Compliance"])
    assert {c for c in compliance if not c.startswith("view_")} == {"export_evidence"}


def test_compliance_cannot_change_anything(client, compliance, member, deals, code):
    sub = Subscription.objects.get(keyword=deals)
    sync = ProviderSync.objects.create(
        contact=sub.contact, short_code=code, provider=code.provider, status=SyncStatus.FAILED
    )
    for action in ("opt_out", "stop_all", "retry_provider_sync"):
        client.post(
            "/admin/subscriptions/subscription/",
            {"action": action, ACTION_CHECKBOX_NAME: [sub.pk], "reason": "try"},
        )
    client.post(
        "/admin/subscriptions/contact/",
        {"action": "preferences_link", ACTION_CHECKBOX_NAME: [sub.contact_id], "reason": "try"},
    )
    client.post(
        "/admin/subscriptions/providersync/",
        {"action": "retry_selected_syncs", ACTION_CHECKBOX_NAME: [sync.pk], "reason": "try"},
    )
    assert Subscription.objects.get(pk=sub.pk).status == Status.OPTED_IN
    assert not SubscriptionEvent.objects.filter(source="admin").exists()
    sync.refresh_from_db()
    assert sync.status == SyncStatus.FAILED

    forbidden = [
        ("post", f"/admin/subscriptions/shortcode/{code.pk}/change/"),
        ("get", "/admin/subscriptions/shortcode/add/"),
        ("get", "/admin/subscriptions/keyword/add/"),
        ("get", "/admin/subscriptions/importjob/add/"),
        ("post", "/admin/subscriptions/importjob/add/"),
        ("get", f"/admin/subscriptions/shortcode/{code.pk}/delete/"),
        ("get", f"/admin/subscriptions/contact/{sub.contact_id}/delete/"),
        ("get", "/admin/subscriptions/provideraccount/add/"),
    ]
    for method, url in forbidden:
        assert getattr(client, method)(url).status_code == 403, url
    assert ShortCode.objects.get(pk=code.pk).name == code.name
    assert not ImportJob.objects.exists()


def test_compliance_reads_everything_and_exports_evidence(client, compliance, member, code):
    contact = Contact.objects.get(phone=member)
    for url in [
        "/admin/subscriptions/subscription/",
        "/admin/subscriptions/subscriptionevent/",
        f"/admin/subscriptions/contact/{contact.pk}/change/",
        f"/admin/subscriptions/shortcode/{code.pk}/change/",
        "/admin/subscriptions/providersync/",
        "/admin/subscriptions/importjob/",
        "/admin/dashboard/",
    ]:
        assert client.get(url).status_code == 200, url
    page = client.get("/admin/subscriptions/subscription/")
    assert b"opt_out" not in page.content and b"stop_all" not in page.content
    evidence = client.get(f"/admin/subscriptions/contact/{contact.pk}/evidence.csv")
    assert evidence.status_code == 200


def test_marketing_manages_programs_imports_and_opts_out_but_no_evidence_or_credentials(
    client, marketing, member, code, settings, tmp_path
):
    settings.MEDIA_ROOT = tmp_path
    response = client.post(
        "/admin/subscriptions/keyword/add/",
        {
            "short_code": code.pk,
            "word": "summer",
            "kind": "program",
            "title": "Summer",
            "description": "",
            "provider_ref": "",
            "is_public": "on",
        },
    )
    assert response.status_code == 302, response.context["adminform"].form.errors
    assert Keyword.objects.filter(word="SUMMER", short_code=code).exists()
    upload = client.post(
        "/admin/subscriptions/importjob/add/",
        {"file": SimpleUploadedFile("a.csv", b"phone,short_code,keyword,status\n")},
    )
    assert upload.status_code == 302
    page = client.get("/admin/subscriptions/subscription/")
    assert b'value="opt_out"' in page.content and b'value="stop_all"' in page.content
    contact = Contact.objects.get(phone=member)
    assert client.get(f"/admin/subscriptions/contact/{contact.pk}/evidence.csv").status_code == 403
    assert client.get("/admin/subscriptions/provideraccount/add/").status_code == 403
    assert client.get(f"/admin/subscriptions/shortcode/{code.pk}/delete/").status_code == 403


def test_nobody_deletes_consent_data_not_even_a_superuser(admin_client, member, deals):
    sub = Subscription.objects.get(keyword=deals)
    event = SubscriptionEvent.objects.first()
    for url in [
        f"/admin/subscriptions/subscription/{sub.pk}/delete/",
        f"/admin/subscriptions/subscriptionevent/{event.pk}/delete/",
        f"/admin/subscriptions/contact/{sub.contact_id}/delete/",
    ]:
        assert admin_client.post(url, {"post": "yes"}).status_code == 403, url
    page = admin_client.get("/admin/subscriptions/subscriptionevent/")
    assert b"delete_selected" not in page.content
    change = admin_client.post(
        f"/admin/subscriptions/subscriptionevent/{event.pk}/change/", {"reason": "edited"}
    )
    assert change.status_code == 403
    assert SubscriptionEvent.objects.get(pk=event.pk).reason == event.reason
