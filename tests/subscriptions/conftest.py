"""Fake providers on loopback and provider accounts pointing at them."""

import pytest

from subscriptions.consent.services import Context
from subscriptions.models import ProviderKind
from tests.factories import KeywordFactory, ProviderAccountFactory, ShortCodeFactory
from tests.fakes import FakeSfmc, FakeSkyCore, FakeWhatCounts

# Timeouts that a loaded CI machine (xdist workers beside the fault run) stays well within;
# a test that wants a timeout shortens them itself (`hanging_account`).
FAST = {"connect_timeout": 5, "read_timeout": 10}
PHONE = "+15555550100"
DIGITS = "15555550100"


def account_for(kind, settings, secrets):
    account = ProviderAccountFactory(kind=kind, settings={**settings, **FAST})
    account.set_secrets(secrets)
    account.save()
    return account


@pytest.fixture
def skycore():
    with FakeSkyCore(api_key="sky-key-123") as fake:
        yield fake


@pytest.fixture
def skycore_account(skycore):
    return account_for(
        ProviderKind.SKYCORE, {"api_url": skycore.api_url}, {"api_key": "sky-key-123"}
    )


@pytest.fixture
def whatcounts():
    with FakeWhatCounts(realm="acme", password="wc-pass-456") as fake:
        yield fake


@pytest.fixture
def whatcounts_account(whatcounts):
    return account_for(
        ProviderKind.WHATCOUNTS,
        {"base_url": whatcounts.url, "realm": "acme"},
        {"password": "wc-pass-456"},
    )


@pytest.fixture
def sfmc():
    with FakeSfmc(client_id="cid", client_secret="csecret-789", account_id="5001") as fake:
        yield fake


@pytest.fixture
def sfmc_account(sfmc):
    return account_for(
        ProviderKind.SFMC,
        {"auth_base_url": sfmc.url, "rest_base_url": sfmc.url, "account_id": "5001"},
        {"client_id": "cid", "client_secret": "csecret-789"},
    )


def hanging_account(account, read_timeout=2):
    """Shorten `account`'s read timeout so that a `fake.hang(...)` longer than it is a
    client timeout within a test's patience."""
    account.settings = {**account.settings, "read_timeout": read_timeout}
    account.save()
    return account


def programs(account, *words, **fields):
    """A short code of `account` with program keywords `words` (provider_ref = ref-WORD
    unless `fields` say otherwise)."""
    code = ShortCodeFactory(provider=account)
    return code, [
        KeywordFactory(**{"short_code": code, "word": word, "provider_ref": f"ref-{word}"} | fields)
        for word in words
    ]


@pytest.fixture
def committed(on_commit):
    """`with committed(): services...` runs the on-commit delivery like a real commit."""
    return on_commit


@pytest.fixture
def change(committed):
    """`change(services.opt_in, keyword, "api")`: one consent change of PHONE, committed, so
    its provider delivery runs as after a real commit."""

    def run(service, target, source):
        with committed():
            return service(PHONE, target, Context(source=source))

    return run


# The short code and programs most tests use: 12345 of the brand Acme, DEALS and NEWS.
@pytest.fixture
def code():
    return ShortCodeFactory(code="12345", brand="Acme")


@pytest.fixture
def deals(code):
    return KeywordFactory(short_code=code, word="DEALS", title="Deals")


@pytest.fixture
def news(code):
    return KeywordFactory(short_code=code, word="NEWS", title="News")


def announce_history_as_an_import_chunk():
    """`subscription_changed` as a set-based import sends it (imports/setbased.py): every
    history row as one lazy QuerySet, outbox already written; the number of queries the
    receivers made."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from subscriptions.consent.signals import subscription_changed
    from subscriptions.models import Source, SubscriptionEvent

    with CaptureQueriesContext(connection) as queries:
        subscription_changed.send(
            sender=SubscriptionEvent,
            events=SubscriptionEvent.objects.order_by("pk"),
            source=Source.IMPORT,
            outbox_written=True,
        )
    return len(queries)
