"""Staff consent actions appear in the admin's own log ("Recent actions"), and Compliance
can read unmatched postbacks."""

import pytest
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.contrib.admin.models import LogEntry

from subscriptions.models import Subscription

pytestmark = pytest.mark.django_db
SUBS = "/admin/subscriptions/subscription/"


@pytest.mark.parametrize(
    ("action", "said"), [("opt_out", "Opted out of"), ("stop_all", "Stopped all on")]
)
def test_consent_actions_are_in_the_admin_log(client, marketing, member, deals, action, said):
    sub = Subscription.objects.get(keyword=deals)
    response = client.post(
        SUBS, {"action": action, ACTION_CHECKBOX_NAME: [sub.pk], "reason": "Called in"}
    )
    assert response.status_code == 302
    entry = LogEntry.objects.get(user=marketing, object_id=str(sub.pk))
    assert said in entry.get_change_message() and "Called in" in entry.get_change_message()
    recent = client.get("/admin/").content.decode()  # "Recent actions" links the row
    assert f"/admin/subscriptions/subscription/{sub.pk}/change/" in recent


def test_compliance_can_read_unmatched_postbacks(client, compliance):
    assert client.get("/admin/subscriptions/unmatchedpostback/").status_code == 200
