"""Validation in the model layer: what the admin, the API and imports refuse alike."""

import pytest
from django.core.exceptions import ValidationError

from subscriptions.consent import services
from subscriptions.consent.services import Context
from subscriptions.models import KeywordKind, ProviderAccount, ShortCode
from tests.factories import KeywordFactory, ShortCodeFactory

pytestmark = pytest.mark.django_db


def test_a_short_code_with_a_bad_template_does_not_clean():
    code = ShortCodeFactory.build(stop_text="{brand}: bye {nope}")
    with pytest.raises(ValidationError) as refused:
        code.clean()
    assert "stop_text" in refused.value.message_dict


@pytest.mark.parametrize(
    ("word", "kind", "refused"),
    [
        ("STOP", KeywordKind.PROGRAM, True),
        ("STOP", KeywordKind.STOP, True),
        ("QUIT", KeywordKind.HELP, True),
        ("HELP", KeywordKind.PROGRAM, True),
        ("START", KeywordKind.PROGRAM, True),
        ("YES", KeywordKind.PROGRAM, True),
        ("Y", KeywordKind.CONFIRM, False),
        ("INFO", KeywordKind.HELP, False),
        ("DEALS", KeywordKind.PROGRAM, False),
        ("stop1", KeywordKind.STOP, False),
    ],
)
def test_reserved_words(word, kind, refused):
    keyword = KeywordFactory.build(short_code=ShortCodeFactory(), word=word, kind=kind)
    if refused:
        with pytest.raises(ValidationError) as error:
            keyword.clean()
        assert "word" in error.value.message_dict
    else:
        keyword.clean()


def test_a_keyword_with_subscribers_cannot_move_to_another_code():
    keyword = KeywordFactory(word="DEALS")
    other = ShortCodeFactory()
    services.opt_in("+15555550100", keyword, Context(source="api"))
    keyword.short_code = other
    with pytest.raises(ValidationError) as refused:
        keyword.clean()
    assert "short_code" in refused.value.message_dict


def test_a_keyword_without_subscribers_may_move():
    keyword = KeywordFactory(word="DEALS")
    keyword.short_code = ShortCodeFactory()
    keyword.clean()


@pytest.mark.parametrize(
    ("kind", "settings", "problem"),
    [
        ("sfmc", {"api_url": "https://x"}, "Not used by this kind: api_url"),
        ("sfmc", {"auth_base_url": "ftp://x"}, "must be an http(s) URL"),
        ("skycore", {"read_timeout": "forever"}, "number of seconds"),
        ("skycore", {"read_timeout": "9999"}, "between 0.1 and 120"),
        ("whatcounts", {"realm": {"nested": 1}}, "must be a string"),
        ("console", {"anything": "x"}, "Allowed: none"),
        ("sfmc", {"auth_base_url": "https://a"}, "Account id (MID) is required"),
        ("whatcounts", {"realm": "acme"}, "API base URL is required"),
    ],
)
def test_provider_settings_are_checked_per_kind(kind, settings, problem):
    account = ProviderAccount(name="x", kind=kind, settings=settings)
    with pytest.raises(ValidationError) as refused:
        account.clean()
    assert problem in " ".join(refused.value.message_dict["settings"])


def test_provider_secrets_of_another_kind_are_refused():
    account = ProviderAccount(name="x", kind="skycore")
    with pytest.raises(ValidationError):
        account.set_secrets({"client_secret": "x"})
    account.set_secrets({"api_key": "k"})
    assert account.secrets == {"api_key": "k"}


def test_the_seeded_defaults_are_clean():
    code = ShortCode(code="12345", name="n", brand="Acme")
    code.clean()


def test_an_inactive_account_may_lack_required_settings():
    """Disabling an account must never be refused because its settings are incomplete."""
    ProviderAccount(name="x", kind="sfmc", settings={}, is_active=False).clean()
