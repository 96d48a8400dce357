import pytest
from django.contrib.auth.models import Group

from subscriptions.consent import services
from subscriptions.consent.services import Context
from tests.factories import UserFactory


def staff_in(group_name):
    user = UserFactory(is_staff=True)
    user.groups.add(Group.objects.get(name=group_name))
    return user


@pytest.fixture
def marketing(client):
    user = staff_in("Marketing")
    client.force_login(user)
    return user


@pytest.fixture
def compliance(client):
    user = staff_in("Compliance")
    client.force_login(user)
    return user


@pytest.fixture
def member(deals, news):
    """+15555551212 in DEALS and NEWS on 12345."""
    for keyword in (deals, news):
        services.opt_in("+15555551212", keyword, Context(source="mo"))
    return "+15555551212"
