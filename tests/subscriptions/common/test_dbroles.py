"""Issue 16: least-privilege database roles. The application role can INSERT and SELECT
the consent history and nothing else: not UPDATE, DELETE, TRUNCATE, nor disable the
append-only trigger; the deploy check warns when the application's role owns the table."""

import pytest
from django.core.management import call_command
from django.db import DatabaseError, connection, transaction

from subscriptions import checks
from subscriptions.common import dbroles
from subscriptions.consent import services
from subscriptions.consent.services import Context
from subscriptions.models import SubscriptionEvent
from tests.factories import KeywordFactory

pytestmark = [pytest.mark.django_db, pytest.mark.postgres]
APP_ROLE = "portal_issue16_app"
HISTORY = dbroles.HISTORY_TABLE


@pytest.fixture
def app_role():
    """A NOLOGIN application role granted as documented, used through SET ROLE (the test
    transaction rolls the role back with everything else)."""
    with connection.cursor() as cursor:
        cursor.execute(f"CREATE ROLE {APP_ROLE} NOLOGIN")
    call_command("grant_app_role", APP_ROLE)
    yield APP_ROLE
    with connection.cursor() as cursor:
        cursor.execute("RESET ROLE")


def as_app(sql, params=None):
    with transaction.atomic(), connection.cursor() as cursor:  # a savepoint per attempt
        cursor.execute(f"SET LOCAL ROLE {APP_ROLE}")
        cursor.execute(sql, params)
        return cursor.fetchall() if cursor.description else None


def test_the_application_role_can_only_insert_and_select_the_history(app_role):
    services.opt_in("+15555551212", KeywordFactory(word="JOIN"), Context(source="mo"))
    event = SubscriptionEvent.objects.get()

    assert as_app(f"SELECT count(*) FROM {HISTORY}") == [(1,)]
    columns = [f.column for f in SubscriptionEvent._meta.concrete_fields if f.column != "id"]
    as_app(
        f"INSERT INTO {HISTORY} ({', '.join(columns)}) "
        f"SELECT {', '.join(columns)} FROM {HISTORY} WHERE id = %s",
        [event.pk],
    )
    for sql in (
        f"UPDATE {HISTORY} SET reason = 'rewritten'",
        f"DELETE FROM {HISTORY}",
        f"TRUNCATE {HISTORY}",
        f"ALTER TABLE {HISTORY} DISABLE TRIGGER ALL",
        f"ALTER TABLE {HISTORY} DISABLE TRIGGER subscriptions_event_append_only",
        f"DROP TRIGGER subscriptions_event_append_only ON {HISTORY}",
    ):
        with pytest.raises(DatabaseError, match=r"permission denied|must be owner"):
            as_app(sql)
    assert SubscriptionEvent.objects.count() == 2
    assert not SubscriptionEvent.objects.filter(reason="rewritten").exists()


def test_the_application_role_still_runs_the_portals_other_writes(app_role):
    keyword = KeywordFactory(word="JOIN")
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(f"SET LOCAL ROLE {APP_ROLE}")
        services.opt_in("+15555551212", keyword, Context(source="mo"))
        services.stop_all("+15555551212", keyword.short_code, Context(source="mo"))
    assert SubscriptionEvent.objects.count() >= 2


def test_the_deploy_check_warns_when_the_role_owns_the_history(app_role):
    # The test connects as the table's owner (a superuser): exactly what a deploy must not do.
    warnings = checks.history_role(None)
    assert [w.id for w in warnings] == ["subscriptions.W010"]
    assert "owns the history table" in warnings[0].msg
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(f"SET LOCAL ROLE {APP_ROLE}")
        assert checks.history_role(None) == []
