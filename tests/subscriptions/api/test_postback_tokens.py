"""Issue 16: postback URLs (they hold the token that authenticates postbacks) only for staff
who may change provider accounts; the token can be rotated."""

import pytest

from subscriptions.models import ProviderAccount, ProviderKind
from tests.factories import ProviderAccountFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def skycore():
    return ProviderAccountFactory(kind=ProviderKind.SKYCORE)


def test_a_read_only_token_never_sees_the_postback_url(reader, skycore):
    for body in (
        reader.get("/api/v1/providers/").json()[0],
        reader.get(f"/api/v1/providers/{skycore.pk}/").json(),
    ):
        assert body["postback_url"] is None
    assert skycore.postback_token not in reader.get("/api/v1/providers/").content.decode()


def test_staff_who_may_change_accounts_see_it_and_rotate_it(staff, skycore, client):
    old = skycore.postback_token
    assert old in staff.get(f"/api/v1/providers/{skycore.pk}/").json()["postback_url"]

    response = staff.post(f"/api/v1/providers/{skycore.pk}/rotate-postback-token/")

    assert response.status_code == 200
    new = ProviderAccount.objects.get(pk=skycore.pk).postback_token
    assert new != old and new in response.json()["postback_url"]
    assert (
        client.post(f"/webhooks/skycore/{old}/", b"<x/>", content_type="text/xml").status_code
        == 404
    )
    assert (
        client.post(f"/webhooks/skycore/{new}/", b"<x/>", content_type="text/xml").status_code
        == 400
    )


def test_a_read_only_token_cannot_rotate(reader, skycore):
    old = skycore.postback_token
    response = reader.post(f"/api/v1/providers/{skycore.pk}/rotate-postback-token/")
    assert response.status_code == 403
    assert set(response.json()) == {"detail", "code"}
    assert ProviderAccount.objects.get(pk=skycore.pk).postback_token == old
