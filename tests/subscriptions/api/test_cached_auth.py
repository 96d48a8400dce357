"""Tokens, permissions and the catalog are kept per process; every change drops them, so a
revoked token, a removed permission or a changed short code takes effect on the next request."""

import pytest
from django.contrib.auth.models import Group, Permission
from rest_framework.authtoken.models import Token

from subscriptions.consent import services
from subscriptions.consent.context import Context
from subscriptions.models import Keyword, ShortCode

pytestmark = pytest.mark.django_db

URL = "/api/v1/sendable/"
ASK = {"phone": "+15555551212", "short_code": "12345", "keyword": "JOIN"}


@pytest.fixture
def asked(reader, code):
    assert reader.get(URL, ASK).status_code == 200  # now kept


def test_a_deleted_token_is_refused_at_once(reader, asked):
    Token.objects.filter(user=reader.user).get().delete()
    assert reader.get(URL, ASK).status_code == 401


def test_an_inactive_user_is_refused_at_once(reader, asked):
    reader.user.is_active = False
    reader.user.save()
    assert reader.get(URL, ASK).status_code == 401


def test_a_removed_permission_is_refused_at_once(reader, asked):
    reader.user.user_permissions.remove(Permission.objects.get(codename="view_subscription"))
    assert reader.get(URL, ASK).status_code == 403


def test_group_permissions_are_followed(reader, asked):
    reader.user.user_permissions.clear()
    assert reader.get(URL, ASK).status_code == 403
    group = Group.objects.create(name="readers")
    reader.user.groups.add(group)
    assert reader.get(URL, ASK).status_code == 403
    group.permissions.add(Permission.objects.get(codename="view_subscription"))
    assert reader.get(URL, ASK).status_code == 200
    group.permissions.clear()
    assert reader.get(URL, ASK).status_code == 403


def test_a_renamed_code_and_a_new_keyword_are_seen_at_once(reader, code, asked):
    code.code = "54321"
    code.save()
    assert reader.get(URL, ASK).status_code == 400
    assert reader.get(URL, {**ASK, "short_code": "54321"}).status_code == 200
    assert reader.get(URL, {**ASK, "short_code": "54321", "keyword": "NEW"}).status_code == 400
    Keyword.objects.create(short_code=code, word="NEW")
    assert reader.get(URL, {**ASK, "short_code": "54321", "keyword": "NEW"}).status_code == 200


def test_a_kept_keyword_still_answers_the_current_consent(reader, code, asked):
    services.opt_in(ASK["phone"], code.keywords.get(word="JOIN"), Context(source="api"))
    assert reader.get(URL, ASK).json()["reason"] == "opted_in"
    services.stop_all(ASK["phone"], ShortCode.objects.get(code="12345"), Context(source="mo"))
    assert reader.get(URL, ASK).json()["reason"] == "stopped"
