"""A real webhook receiver on loopback (http.server in a thread), endpoints pointing at it,
and the switch that lets the portal post to loopback (PORTAL_WEBHOOKS_ALLOW_PRIVATE)."""

import pytest
from standardwebhooks import Webhook

from subscriptions.consent import services
from subscriptions.consent.services import Context
from subscriptions.webhooks import service, ssrf
from tests.factories import KeywordFactory, ShortCodeFactory
from tests.fakes.base import FakeProvider

PHONE = "+15555550100"
OTHER = "+15555550111"
PUBLIC_IP = "93.184.215.14"  # a global address (never connected to: names are faked)


class Receiver(FakeProvider):
    """Answers 200 unless scripted (`fail`, `hang`); records every request."""

    def respond(self, request):
        return 200, {"Content-Type": "text/plain"}, "ok"

    def verified(self, secret, request):
        """The body as the standardwebhooks library's own verifier accepts it."""
        return Webhook(secret).verify(request.body, request.headers)


@pytest.fixture
def allow_private(settings):
    settings.PORTAL_WEBHOOKS_ALLOW_PRIVATE = True
    return settings


@pytest.fixture
def receiver():
    with Receiver() as fake:
        yield fake


@pytest.fixture
def endpoint(db, allow_private, receiver):
    """(endpoint, secret) for consent.changed at the receiver."""
    return service.create_endpoint(url=receiver.url + "/hooks", events=["consent.changed"])


@pytest.fixture
def fake_dns(monkeypatch):
    """`fake_dns({"name": ["1.2.3.4"]})`: the resolver answers these names (others fail)."""
    answers = {}
    real = ssrf.resolve

    def resolve(host, port):
        if host in answers:
            return list(answers[host])
        if host in ("localhost", "127.0.0.1", "::1"):
            return real(host, port)
        raise OSError(f"no such name in the test: {host}")

    monkeypatch.setattr(ssrf, "resolve", resolve)
    return answers.update


@pytest.fixture
def program(db):
    code = ShortCodeFactory(code="12345")
    return KeywordFactory(short_code=code, word="DEALS")


@pytest.fixture
def opt_in(committed, program):
    """Opt PHONE (or another number) in to the program, committed (delivery runs)."""

    def run(phone=PHONE, keyword=None):
        with committed():
            return services.opt_in(phone, keyword or program, Context(source="api"))

    return run


@pytest.fixture
def opt_out(committed, program):
    def run(phone=PHONE, keyword=None):
        with committed():
            return services.opt_out(phone, keyword or program, Context(source="api"))

    return run
