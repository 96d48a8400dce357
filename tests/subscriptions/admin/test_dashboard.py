"""admin/dashboard.py: the "needs attention" tiles (revocations due, drift found) and the
figures' time zone. The activity charts and KPIs are tested in test_pages.py."""

from datetime import timedelta

import pytest
from django.contrib.auth.models import Permission
from django.core.cache import cache
from django.utils import timezone

from subscriptions.admin.dashboard import dashboard_data
from subscriptions.inbound import mo
from subscriptions.models import Contact, Drift, DriftAction, Held, Reconciliation, Revocation

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _fresh_cache():
    cache.clear()  # the dashboard keeps its data a minute in the shared cache


@pytest.fixture
def waiting(member, code):
    """A text that may be a revocation: open, waiting for staff."""
    mo.handle_mo(mo.MoText(phone=member, short_code=code, text="not interested", message_id="r"))
    return Revocation.objects.get()


@pytest.fixture
def drifted(member, code):
    run = Reconciliation.objects.create(provider=code.provider, short_code=code)
    return Drift.objects.create(
        reconciliation=run,
        contact=Contact.objects.get(phone=member),
        short_code=code,
        portal=Held.OUT,
        provider=Held.IN,
        action=DriftAction.OPT_OUT_SENT,
    )


def tiles(data):
    return {k.key: (k.value, k.detail) for k in data["attention"]}


def test_revocations_due_and_overdue(waiting):
    assert tiles(dashboard_data())["revocations-due"] == (
        "1",
        "waiting for a staff decision now, 0 overdue",
    )
    later = waiting.due_by + timedelta(minutes=1)
    assert tiles(dashboard_data(now=later))["revocations-due"][1].endswith(", 1 overdue")


def test_drift_found_in_the_period(drifted):
    value, detail = tiles(dashboard_data(days=7))["drift-found"]
    assert value == "1"
    assert detail == (
        "numbers a provider held otherwise, last 7 days: 1 opt-out sent again, 0 reported"
    )
    later = timezone.now() + timedelta(days=8)
    assert tiles(dashboard_data(now=later, days=7))["drift-found"][0] == "0"


def test_the_tiles_link_to_their_lists_for_those_who_may_read_them(
    client, compliance, waiting, drifted
):
    page = client.get("/admin/dashboard/").content.decode()
    assert 'id="kpi-revocations-due"' in page and 'id="kpi-drift-found"' in page
    assert 'href="/admin/subscriptions/revocation/"' in page
    assert 'href="/admin/subscriptions/drift/"' in page
    assert client.get("/admin/subscriptions/drift/").status_code == 200


def test_no_link_without_the_permission(client, django_user_model, waiting):
    user = django_user_model.objects.create_user("viewer", is_staff=True)
    user.user_permissions.add(Permission.objects.get(codename="view_subscriptionevent"))
    client.force_login(user)
    page = client.get("/admin/dashboard/").content.decode()
    assert 'id="kpi-revocations-due"' in page
    assert 'href="/admin/subscriptions/revocation/"' not in page


def test_figures_are_stamped_in_the_staff_members_zone(client, compliance, member):
    client.cookies["portal_tz"] = "Asia%2FTokyo"
    page = client.get("/admin/dashboard/").content.decode()
    assert " JST (refreshed every minute)" in page
