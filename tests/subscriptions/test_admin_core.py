import pytest

from subscriptions.consent import services
from subscriptions.consent.services import Context
from subscriptions.models import Source, SubscriptionEvent
from tests.factories import KeywordFactory, UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff_client(client):
    client.force_login(UserFactory(is_staff=True, is_superuser=True))
    return client


def test_history_is_visible_but_cannot_be_changed_or_deleted(staff_client):
    services.opt_in("+15555551212", KeywordFactory(), Context(source=Source.WEB))
    event = SubscriptionEvent.objects.get()
    base = "/admin/subscriptions/subscriptionevent/"
    assert staff_client.get(base).status_code == 200
    assert staff_client.get(f"{base}{event.pk}/change/").status_code == 200
    assert staff_client.post(f"{base}{event.pk}/change/", {"reason": "x"}).status_code == 403
    assert staff_client.get(f"{base}{event.pk}/delete/").status_code == 403
    assert staff_client.get(f"{base}add/").status_code == 403
    assert SubscriptionEvent.objects.get().reason == ""


@pytest.mark.parametrize("model", ["subscription", "contact", "shortcodestop"])
def test_consent_state_cannot_be_edited_through_model_forms(staff_client, model):
    services.opt_in("+15555551212", KeywordFactory(), Context(source=Source.WEB))
    assert staff_client.get(f"/admin/subscriptions/{model}/").status_code == 200
    assert staff_client.get(f"/admin/subscriptions/{model}/add/").status_code == 403
