"""Issue 16: the admin shows postback URLs only to staff who may change provider accounts,
and rotates the token by an action."""

import pytest

from subscriptions.models import ProviderAccount, ProviderKind
from tests.factories import ProviderAccountFactory, UserFactory
from tests.subscriptions.admin.conftest import staff_in

pytestmark = pytest.mark.django_db


@pytest.fixture
def skycore():
    return ProviderAccountFactory(kind=ProviderKind.SKYCORE)


def pages(client, account):
    urls = [
        "/admin/subscriptions/provideraccount/",
        f"/admin/subscriptions/provideraccount/{account.pk}/change/",
    ]
    return "".join(client.get(url).content.decode() for url in urls)


@pytest.mark.parametrize("group", ["Compliance", "Marketing"])
def test_staff_who_cannot_change_accounts_never_see_the_token(client, skycore, group):
    client.force_login(staff_in(group))
    assert skycore.postback_token not in pages(client, skycore)


def test_a_superuser_sees_the_url_and_rotates_the_token(client, skycore):
    client.force_login(UserFactory(is_staff=True, is_superuser=True))
    old = skycore.postback_token
    assert f"/webhooks/skycore/{old}/" in pages(client, skycore)

    response = client.post(
        "/admin/subscriptions/provideraccount/",
        {"action": "rotate_postback_tokens", "_selected_action": [skycore.pk]},
    )

    assert response.status_code == 302
    assert ProviderAccount.objects.get(pk=skycore.pk).postback_token != old
