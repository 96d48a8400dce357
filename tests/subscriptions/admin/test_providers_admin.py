"""Provider admin: secrets are write-only, the sync log filters and retries, calls are listed."""

import pytest
from django.urls import reverse

from subscriptions.consent import services
from subscriptions.consent.services import Context
from subscriptions.models import (
    ProviderAccount,
    ProviderCall,
    ProviderSync,
    ShortCode,
    SyncStatus,
)
from tests.factories import (
    ContactFactory,
    KeywordFactory,
    ProviderAccountFactory,
    ShortCodeFactory,
)

pytestmark = pytest.mark.django_db


def test_secrets_are_write_only_and_blank_keeps_them(admin_client):
    account = ProviderAccountFactory(kind="skycore", name="Sky")
    account.set_secrets({"api_key": "very-secret-key"})
    account.save()
    url = reverse("admin:subscriptions_provideraccount_change", args=[account.pk])

    page = admin_client.get(url).content.decode()
    assert "very-secret-key" not in page
    assert 'name="secret_api_key"' in page and "Stored, encrypted" in page

    form = {
        "name": "Sky",
        "setting_api_url": "https://x",
        "is_active": "on",
        "secret_api_key": "",
    }
    assert admin_client.post(url, form).status_code == 302
    account.refresh_from_db()
    assert account.secrets == {"api_key": "very-secret-key"}

    admin_client.post(url, {**form, "secret_api_key": "rotated-key"})
    account.refresh_from_db()
    assert account.secrets == {"api_key": "rotated-key"}
    assert account.settings == {"api_url": "https://x"}
    assert "rotated-key" not in admin_client.get(url).content.decode()


def test_new_account_with_secrets(admin_client):
    response = admin_client.post(
        reverse("admin:subscriptions_provideraccount_add") + "?kind=whatcounts",
        {
            "name": "WC",
            "kind": "whatcounts",
            "setting_base_url": "https://api.whatcounts.com",
            "setting_realm": "acme",
            "is_active": "on",
            "secret_password": "pw-1",
        },
    )
    assert response.status_code == 302
    account = ProviderAccount.objects.get(name="WC")
    assert (account.secrets, account.settings) == (
        {"password": "pw-1"},
        {"base_url": "https://api.whatcounts.com", "realm": "acme"},
    )


def sync(status, **fields):
    code = fields.pop("short_code", None) or ShortCodeFactory()
    return ProviderSync.objects.create(
        contact=ContactFactory(), short_code=code, provider=code.provider, status=status, **fields
    )


def test_sync_log_filters_by_status_provider_and_short_code(admin_client):
    failed = sync(SyncStatus.FAILED, last_error="permanent error: SkyCore E104")
    done = sync(SyncStatus.SUCCEEDED)
    url = reverse("admin:subscriptions_providersync_changelist")

    page = admin_client.get(url, {"status": "failed"}).content.decode()
    assert str(failed.contact) in page and str(done.contact) not in page
    row = reverse("admin:subscriptions_providersync_change", args=[failed.pk])
    assert "permanent error: SkyCore E104" in admin_client.get(row).content.decode()
    page = admin_client.get(url, {"provider__id__exact": done.provider_id}).content.decode()
    assert str(done.contact) in page and str(failed.contact) not in page
    page = admin_client.get(url, {"short_code__id__exact": failed.short_code_id}).content.decode()
    assert str(failed.contact) in page and str(done.contact) not in page


def test_sync_page_shows_what_the_provider_is_known_to_hold(admin_client):
    code = ShortCodeFactory()
    deals, news = (KeywordFactory(short_code=code, word=word) for word in ("DEALS", "NEWS"))
    row = sync(
        SyncStatus.PENDING,
        short_code=code,
        state_version=3,
        state={str(deals.pk): True, str(news.pk): None},
    )

    page = admin_client.get(reverse("admin:subscriptions_providersync_change", args=[row.pk]))

    text = page.content.decode()
    assert "Provider state after this row" in text
    assert (
        "DEALS: in, NEWS: unknown (the next delivery sends the portal&#x27;s state either "
        "way) (version 3)"
    ) in text


def test_retry_action_requeues_and_delivers(admin_client, on_commit):
    failed = sync(SyncStatus.FAILED, attempts=8, last_error="gave up after 8 attempts")
    with on_commit():
        response = admin_client.post(
            reverse("admin:subscriptions_providersync_changelist"),
            {
                "action": "retry_selected_syncs",
                "_selected_action": [failed.pk],
                "reason": "Provider fixed the credentials",
            },
        )
    assert response.status_code == 302
    failed.refresh_from_db()
    # The console provider took it at once (immediate task backend in tests).
    assert (failed.status, failed.attempts) == (SyncStatus.SUCCEEDED, 1)


def test_retry_action_needs_the_change_permission(client, on_commit):
    from django.contrib.auth.models import Permission

    from tests.factories import UserFactory

    viewer = UserFactory(is_staff=True)
    viewer.user_permissions.add(Permission.objects.get(codename="view_providersync"))
    client.force_login(viewer)
    failed = sync(SyncStatus.FAILED)
    with on_commit():
        response = client.post(
            reverse("admin:subscriptions_providersync_changelist"),
            {
                "action": "retry_selected_syncs",
                "_selected_action": [failed.pk],
                "reason": "Try again",
            },
        )
    assert response.status_code == 200  # the action is not offered: nothing happens
    failed.refresh_from_db()
    assert failed.status == SyncStatus.FAILED


def test_call_log_lists_calls(admin_client):
    account = ProviderAccountFactory()
    ProviderCall.objects.create(
        provider=account, method="POST", url="https://p/api", status_code=503, elapsed_ms=12
    )
    page = admin_client.get(
        reverse("admin:subscriptions_providercall_changelist"), {"status_code": 503}
    ).content.decode()
    assert "https://p/api" in page


def test_account_page_says_what_the_provider_cannot_be_told(admin_client):
    account = ProviderAccountFactory(kind="sfmc", name="Marketing Cloud")
    page = admin_client.get(
        reverse("admin:subscriptions_provideraccount_change", args=[account.pk])
    ).content.decode()
    assert "Opt a number in to one program: yes" in page
    assert (
        "Opt a number out of one program: no: the opt-out stays local and the portal&#x27;s "
        "sendability check blocks the program"
    ) in page
    assert "Report consent changes back to the portal (postbacks): no" in page


def _short_code_form(account, **changes):
    return {
        "code": "55555",
        "name": "Line",
        "brand": "Acme",
        "provider": account.pk,
        "help_text": "{brand}: HELP",
        "stop_text": "{brand}: bye",
        "opt_in_text": "{brand}: joined {program}",
        "double_opt_in_prompt": "{brand}: reply Y",
        "double_opt_in_window_hours": 24,
        "confirm_expired_text": "{brand}: too late",
        **changes,
    }


@pytest.mark.parametrize(
    ("template", "fragment"),
    [
        ("{brand}: bye {nope}", "Unknown placeholder {nope}"),
        ("{brand:>20000000}", "more than 1600 characters"),
    ],
)
def test_the_admin_refuses_a_short_code_template_that_would_break_replies(
    admin_client, template, fragment
):
    account = ProviderAccountFactory()
    response = admin_client.post(
        reverse("admin:subscriptions_shortcode_add"),
        _short_code_form(account, stop_text=template),
    )
    assert response.status_code == 200  # the form again, with the error
    assert fragment in response.content.decode()
    assert not ShortCode.objects.filter(code="55555").exists()


def test_the_admin_refuses_to_move_a_keyword_that_has_subscribers(admin_client):
    keyword = KeywordFactory(word="DEALS")
    services.opt_in("+15555550100", keyword, Context(source="api"))
    other = ShortCodeFactory()
    url = reverse("admin:subscriptions_keyword_change", args=[keyword.pk])
    response = admin_client.post(
        url,
        {
            "short_code": other.pk,
            "word": "DEALS",
            "kind": "program",
            "title": "",
            "is_public": "on",
        },
    )
    assert response.status_code == 200
    assert "cannot move to another code" in response.content.decode()
    keyword.refresh_from_db()
    assert keyword.short_code_id != other.pk


def test_the_add_page_asks_for_the_kind_first(admin_client):
    page = admin_client.get(reverse("admin:subscriptions_provideraccount_add")).content.decode()
    assert "?kind=sfmc" in page and "?kind=skycore" in page and 'name="name"' not in page


def test_the_form_has_only_that_kinds_labelled_settings_and_secrets(admin_client):
    url = reverse("admin:subscriptions_provideraccount_add") + "?kind=sfmc"
    page = admin_client.get(url).content.decode()
    for expected in ("Auth base URL", "Account id (MID)", "The API integration's client id"):
        assert expected in page
    assert 'name="secret_client_secret"' in page
    assert 'name="secret_api_key"' not in page and 'name="secret_password"' not in page
    assert 'name="settings"' not in page  # no raw JSON box


def test_the_admin_refuses_a_bad_setting_next_to_its_field(admin_client):
    response = admin_client.post(
        reverse("admin:subscriptions_provideraccount_add") + "?kind=sfmc",
        {"name": "S", "kind": "sfmc", "setting_auth_base_url": "ftp://x", "is_active": "on"},
    )
    assert response.status_code == 200
    assert "Auth base URL must be an http(s) URL" in response.content.decode()
    assert not ProviderAccount.objects.filter(name="S").exists()


def test_the_postback_url_is_shown_to_those_who_may_change_accounts(admin_client, client):
    from django.contrib.auth.models import Group

    from tests.factories import UserFactory

    account = ProviderAccountFactory(kind="skycore", name="Sky")
    url = reverse("admin:subscriptions_provideraccount_change", args=[account.pk])
    page = admin_client.get(url).content.decode()
    assert f"/webhooks/skycore/{account.postback_token}/" in page
    assert 'data-copy="postback-url"' in page and "Test connection" in page
    marketing = UserFactory(is_staff=True)
    marketing.groups.add(Group.objects.get(name="Marketing"))
    client.force_login(marketing)
    page = client.get(url).content.decode()
    assert account.postback_token not in page and "Test connection" not in page
    test_url = reverse("admin:subscriptions_provideraccount_test", args=[account.pk])
    assert client.post(test_url).status_code == 403


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(
    ("fixture", "said"),
    [
        ("sfmc_account", "SFMC issued an access token for MID 5001"),
        ("whatcounts_account", "WhatCounts accepted the realm and password"),
        ("skycore_account", "SkyCore accepted the API key; 1 messaging campaign(s) listed"),
    ],
)
def test_test_connection_makes_one_logged_harmless_call(admin_client, request, fixture, said):
    account = request.getfixturevalue(fixture)
    fake = request.getfixturevalue(fixture.removesuffix("_account"))
    url = reverse("admin:subscriptions_provideraccount_test", args=[account.pk])
    page = admin_client.post(url, follow=True).content.decode()
    assert f"Connection test passed: {said}" in page
    assert ProviderCall.objects.filter(provider=account).count() == len(fake.requests) == 1
    assert getattr(fake, "state", {}) in ({}, set())  # nothing changed at the provider
    assert admin_client.get(url).status_code == 405


@pytest.mark.django_db(transaction=True)
def test_test_connection_reports_refused_credentials(admin_client, skycore_account):
    skycore_account.set_secrets({"api_key": "wrong-key"})
    skycore_account.save()
    url = reverse("admin:subscriptions_provideraccount_test", args=[skycore_account.pk])
    page = admin_client.post(url, follow=True).content.decode()
    assert "Connection test failed: SkyCore E104: Authentication failed" in page
    assert "wrong-key" not in page
