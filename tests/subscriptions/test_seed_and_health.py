import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command

from subscriptions.consent import selectors
from subscriptions.models import Action, Keyword, ShortCode, SubscriptionEvent
from subscriptions.revocations import selectors as revocation_selectors

pytestmark = pytest.mark.django_db


def test_seed_demo_builds_varied_states_and_is_repeatable():
    call_command("seed_demo")
    call_command("seed_demo")
    acme = ShortCode.objects.get(code="12345")
    assert acme.provider.kind == "console"
    assert set(Keyword.objects.filter(short_code=acme).values_list("kind", flat=True)) == {
        "program",
        "stop",
        "help",
        "confirm",
    }
    assert Keyword.objects.get(short_code=acme, word="VIP").double_opt_in
    reasons = {
        a.phone: a.reason
        for a in selectors.sendable_many(["+15555550101", "+15555550103", "+15555550104"], acme)
    }
    assert reasons == {
        "+15555550101": "opted_in",
        "+15555550103": "stopped",
        "+15555550104": "pending",
    }
    demo = SubscriptionEvent.objects.filter(contact__phone__startswith="+1555555")
    named = demo.filter(contact__phone__lte="+15555550104")
    assert named.exclude(action=Action.REVIEW).count() == 12
    assert len({e.recorded_at.date() for e in named}) >= 4  # dated over the month too
    assert revocation_selectors.dashboard_numbers().due == 1  # one reply waits for staff
    crowd_days = {e.recorded_at.date() for e in demo.filter(contact__phone__gte="+15555552000")}
    assert len(crowd_days) >= 20  # spread over the month, not all on one day
    assert all(e.occurred_at <= e.recorded_at for e in demo)


def test_healthz_answers_when_the_database_does(client):
    response = client.get("/healthz")
    assert (response.status_code, response.json()) == (200, {"status": "ok", "database": "ok"})


def test_healthz_reports_a_broken_database(client, monkeypatch):
    from django.db.backends.utils import CursorWrapper

    def broken(*args, **kwargs):
        raise RuntimeError("database is down")

    monkeypatch.setattr(CursorWrapper, "execute", broken)
    response = client.get("/healthz")
    assert response.status_code == 503


def test_seed_demo_creates_admin_admin_only_in_debug(settings):
    # Issue 16: a production portal never gets a well-known login.
    User = get_user_model()
    settings.DEBUG = False
    call_command("seed_demo")
    assert not User.objects.filter(username="admin").exists()
    settings.DEBUG = True
    call_command("seed_demo")
    assert User.objects.get(username="admin").check_password("admin")
