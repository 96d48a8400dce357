"""The SSRF guard: https only; no private, loopback or link-local address after DNS
resolution, when an endpoint is saved and again at delivery, connecting to the address that
was checked; no redirects; short timeouts; bounded reads. PORTAL_WEBHOOKS_ALLOW_PRIVATE=1
lifts the address rule (and allows http)."""

import pytest
from django.core.exceptions import ValidationError

from subscriptions.models import WebhookDelivery
from subscriptions.webhooks import sender, service, ssrf
from tests.subscriptions.webhooks.conftest import PUBLIC_IP

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    "address",
    [
        "127.0.0.1",
        "10.1.2.3",
        "172.16.0.9",
        "192.168.1.1",
        "169.254.169.254",  # cloud metadata (link-local)
        "100.64.0.1",  # shared address space
        "0.0.0.0",
        "224.0.0.1",
        "::1",
        "fe80::1",
        "fc00::1",
        "::ffff:127.0.0.1",  # IPv4-mapped loopback
    ],
)
def test_a_name_resolving_to_a_non_public_address_is_refused(fake_dns, address):
    fake_dns({"hooks.example.com": [address]})
    with pytest.raises(ssrf.UnsafeURL) as refused:
        ssrf.check("https://hooks.example.com/in")
    assert refused.value.code == "unsafe_address"


def test_one_unsafe_address_among_public_ones_is_enough_to_refuse(fake_dns):
    fake_dns({"hooks.example.com": [PUBLIC_IP, "127.0.0.1"]})
    with pytest.raises(ssrf.UnsafeURL):
        ssrf.check("https://hooks.example.com/")


def test_localhost_resolves_to_loopback_and_is_refused_when_the_switch_is_off():
    with pytest.raises(ssrf.UnsafeURL) as refused:
        ssrf.check("https://localhost:8443/hook")
    assert refused.value.code == "unsafe_address"


def test_a_public_https_url_is_accepted(fake_dns):
    fake_dns({"hooks.example.com": [PUBLIC_IP]})
    target = ssrf.check("https://hooks.example.com/in?x=1")
    assert (target.host, target.port, target.path, target.addresses) == (
        "hooks.example.com",
        443,
        "/in?x=1",
        (PUBLIC_IP,),
    )


@pytest.mark.parametrize(
    "url, code",
    [
        ("http://hooks.example.com/", "scheme"),
        ("ftp://hooks.example.com/", "scheme"),
        ("file:///etc/passwd", "scheme"),
        ("https://user:pw@hooks.example.com/", "invalid"),
        ("https://nowhere.example.com/", "unresolvable"),
    ],
)
def test_other_schemes_credentials_and_unknown_names_are_refused(fake_dns, url, code):
    fake_dns({"hooks.example.com": [PUBLIC_IP]})
    with pytest.raises(ssrf.UnsafeURL) as refused:
        ssrf.check(url)
    assert refused.value.code == code


def test_the_model_refuses_unsafe_urls_for_every_writer(fake_dns):
    fake_dns({"inside.example.com": ["10.0.0.5"]})
    with pytest.raises(ValidationError) as refused:
        service.create_endpoint(url="https://inside.example.com/", events=["consent.changed"])
    assert "url" in refused.value.message_dict


def test_the_switch_allows_http_and_loopback(allow_private):
    target = ssrf.check("http://localhost:8000/hook")
    assert "127.0.0.1" in target.addresses or "::1" in target.addresses


def test_checked_again_at_delivery_time(fake_dns, receiver, opt_in, settings):
    """The name was public when the endpoint was saved; now it points at loopback."""
    fake_dns({"hooks.example.com": [PUBLIC_IP]})
    service.create_endpoint(url="https://hooks.example.com/in", events=["consent.changed"])
    fake_dns({"hooks.example.com": ["127.0.0.1"]})
    opt_in()
    delivery = WebhookDelivery.objects.get()
    assert (delivery.status, delivery.last_status_code) == ("pending", None)
    assert "SSRF" in delivery.last_error and "127.0.0.1" in delivery.last_error
    assert receiver.requests == []


def test_the_connection_goes_to_the_checked_address(allow_private, fake_dns, receiver, opt_in):
    """The name exists only in the guard's answer: the request reaching the receiver proves
    the sender connected to that address, not to a second lookup of the name."""
    port = receiver.server.server_address[1]
    fake_dns({"rebind.example.com": ["127.0.0.1"]})
    service.create_endpoint(url=f"http://rebind.example.com:{port}/in", events=["consent.changed"])
    opt_in()
    (request,) = receiver.requests
    assert request.headers["host"] == f"rebind.example.com:{port}"
    assert WebhookDelivery.objects.get().status == "delivered"


def test_redirects_are_not_followed(endpoint, receiver, opt_in):
    receiver.fail(times=1, status=302, headers={"Location": "http://169.254.169.254/latest"})
    opt_in()
    delivery = WebhookDelivery.objects.get()
    assert (delivery.status, delivery.last_status_code) == ("pending", 302)
    assert len(receiver.requests) == 1


def test_a_large_answer_is_read_only_so_far(endpoint, receiver, opt_in):
    receiver.fail(times=1, status=500, body="x" * 1_000_000)
    opt_in()
    delivery = WebhookDelivery.objects.get()
    assert delivery.last_status_code == 500
    assert len(delivery.last_error) <= 500


def test_a_slow_receiver_times_out(endpoint, receiver, opt_in, settings):
    settings.PORTAL_WEBHOOKS_TIMEOUT_SECONDS = 0.3
    receiver.hang(times=1, seconds=3)
    opt_in()
    delivery = WebhookDelivery.objects.get()
    assert (delivery.status, delivery.last_status_code) == ("pending", None)
    assert "Timeout" in delivery.last_error


def test_nothing_listening_is_a_failed_attempt(allow_private):
    target = ssrf.check("http://127.0.0.1:9/")  # discard port: nothing listens in tests
    answer = sender.post(target, "{}", {}, timeout=1)
    assert not answer.ok and answer.status_code is None and answer.error
