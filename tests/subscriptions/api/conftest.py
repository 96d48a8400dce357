"""API clients for the permission matrix: anonymous, a read-only token, a staff token."""

import pytest
from django.contrib.auth.models import Permission
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from tests.factories import KeywordFactory, ShortCodeFactory, UserFactory

READ_ONLY_PERMS = [
    "view_provideraccount",
    "view_shortcode",
    "view_keyword",
    "view_contact",
    "view_subscription",
    "view_subscriptionevent",
    "view_providersync",
    "view_outboundmessage",
]
STAFF_PERMS = [
    *READ_ONLY_PERMS,
    "add_provideraccount",
    "change_provideraccount",
    "add_shortcode",
    "change_shortcode",
    "add_keyword",
    "change_keyword",
    "change_consent",
]


def token_client(*codenames):
    user = UserFactory()
    user.user_permissions.set(
        Permission.objects.filter(content_type__app_label="subscriptions", codename__in=codenames)
    )
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=user).key}")
    client.user = user
    return client


@pytest.fixture
def anonymous():
    return APIClient()


@pytest.fixture
def reader(db):
    return token_client(*READ_ONLY_PERMS)


@pytest.fixture
def staff(db):
    return token_client(*STAFF_PERMS)


@pytest.fixture
def code(db):
    """The seed short code 12345 with a program JOIN and a double opt-in program VIP."""
    short_code = ShortCodeFactory(code="12345", brand="Acme")
    KeywordFactory(short_code=short_code, word="JOIN")
    KeywordFactory(short_code=short_code, word="VIP", double_opt_in=True)
    return short_code
