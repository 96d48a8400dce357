from functools import partial

import pytest
from django.contrib.auth.models import Permission
from prometheus_client.parser import text_string_to_metric_families

from subscriptions.consent import services
from subscriptions.consent.services import Context
from subscriptions.models import ProviderSync, Source, SyncStatus
from tests.factories import ContactFactory, KeywordFactory, UserFactory
from tests.subscriptions.conftest import announce_history_as_an_import_chunk

pytestmark = pytest.mark.django_db


def sample(text, name, **labels):
    """The value of one sample of a Prometheus text exposition (0 when absent)."""
    for family in text_string_to_metric_families(text):
        for found in family.samples:
            if found.name == name and found.labels == labels:
                return found.value
    return 0.0


def changes_between(before, after, **labels):
    """How much portal_consent_changes_total with these labels grew between two scrapes."""
    name = "portal_consent_changes_total"
    return sample(after, name, **labels) - sample(before, name, **labels)


def test_metrics_need_a_token_or_the_view_metrics_permission(client, settings):
    settings.PORTAL_METRICS_TOKEN = "m-token-123"
    assert client.get("/metrics").status_code == 403
    assert client.get("/metrics", headers={"Authorization": "Bearer wrong"}).status_code == 403
    assert (
        client.get("/metrics", headers={"Authorization": "Bearer m-token-123"}).status_code == 200
    )
    # Issue 16: any staff login is not enough.
    staff = UserFactory(is_staff=True)
    client.force_login(staff)
    assert client.get("/metrics").status_code == 403
    staff.user_permissions.add(
        Permission.objects.get(content_type__app_label="subscriptions", codename="view_metrics")
    )
    client.force_login(staff)
    assert client.get("/metrics").status_code == 200


def test_metrics_count_consent_changes_backlog_and_latency(client, settings):
    settings.PORTAL_METRICS_TOKEN = "m-token-123"
    auth = {"Authorization": "Bearer m-token-123"}
    before = client.get("/metrics", headers=auth).content.decode()
    keyword = KeywordFactory()
    services.opt_in("+15555551212", keyword, Context(source=Source.API))
    services.opt_out("+15555551212", keyword, Context(source=Source.WEB))
    ProviderSync.objects.create(
        contact=ContactFactory(),
        short_code=keyword.short_code,
        provider=keyword.short_code.provider,
        status=SyncStatus.FAILED,
    )
    after = client.get("/metrics", headers=auth).content.decode()

    delta = partial(changes_between, before, after)
    assert delta(action="opt_in", source="api", new_status="opted_in") == 1
    assert delta(action="opt_out", source="web", new_status="opted_out") == 1
    assert (
        sample(
            after,
            "portal_provider_syncs",
            provider=keyword.short_code.provider.name,
            status="failed",
        )
        == 1
    )
    assert sample(after, "portal_request_seconds_count", method="GET", status="200") >= 1


def test_a_chunk_announced_as_a_queryset_is_counted_in_one_query(client, settings):
    """The set-based import announces each chunk as a lazy QuerySet of its applied events
    (imports/setbased.py): the counter is raised by the database's tally, not a row walk."""

    settings.PORTAL_METRICS_TOKEN = "m-token-123"
    auth = {"Authorization": "Bearer m-token-123"}
    keyword = KeywordFactory()
    for n in range(5):
        services.opt_in(f"+1555555130{n}", keyword, Context(source=Source.API))
    services.opt_out("+15555551300", keyword, Context(source=Source.API))
    before = client.get("/metrics", headers=auth).content.decode()

    queries = announce_history_as_an_import_chunk()
    # Read before the next request: Django empties the query log when a request starts.
    assert queries == 1  # no endpoint listens: the webhook receiver reads nothing

    after = client.get("/metrics", headers=auth).content.decode()

    delta = partial(changes_between, before, after)
    assert delta(action="opt_in", source="import", new_status="opted_in") == 5
    assert delta(action="opt_out", source="import", new_status="opted_out") == 1
