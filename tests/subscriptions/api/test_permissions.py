"""Who may do what: anonymous (401), a read-only token, a staff token."""

import pytest

from tests.factories import ProviderAccountFactory

pytestmark = pytest.mark.django_db

READS = [
    "/api/v1/providers/",
    "/api/v1/providers/{provider}/",
    "/api/v1/short-codes/",
    "/api/v1/short-codes/12345/",
    "/api/v1/short-codes/12345/keywords/",
    "/api/v1/short-codes/12345/keywords/JOIN/",
    "/api/v1/sendable/?phone=15555551212&short_code=12345",
    "/api/v1/events/",
    "/api/v1/syncs/",
    "/api/v1/outbox/",
]
CONSENT_WRITES = [
    ("/api/v1/opt-ins/", {"phone": "15555551212", "short_code": "12345", "keyword": "JOIN"}),
    ("/api/v1/opt-outs/", {"phone": "15555551212", "short_code": "12345"}),
]


def config_writes(provider):
    return [
        ("post", "/api/v1/providers/", {"name": "New"}, 201),
        ("patch", f"/api/v1/providers/{provider}/", {"is_active": False}, 200),
        (
            "post",
            "/api/v1/short-codes/",
            {"code": "54321", "name": "n", "brand": "b", "provider": provider},
            201,
        ),
        ("patch", "/api/v1/short-codes/12345/", {"brand": "Acme 2"}, 200),
        ("post", "/api/v1/short-codes/12345/keywords/", {"word": "NEW"}, 201),
        ("patch", "/api/v1/short-codes/12345/keywords/JOIN/", {"title": "Join"}, 200),
    ]


@pytest.fixture
def provider(code):
    return code.provider_id


def test_anonymous_gets_401_everywhere(anonymous, code, provider):
    for url in READS:
        response = anonymous.get(url.format(provider=provider))
        assert (url, response.status_code, response.json()["code"]) == (
            url,
            401,
            "not_authenticated",
        )
    for url, body in CONSENT_WRITES:
        assert anonymous.post(url, body, format="json").status_code == 401
    assert anonymous.get("/api/v1/contacts/15555551212/").status_code == 401


def test_read_only_token_reads_but_cannot_change_anything(reader, code, provider):
    for url in READS:
        assert (url, reader.get(url.format(provider=provider)).status_code) == (url, 200)
    for url, body in CONSENT_WRITES:
        response = reader.post(url, body, format="json")
        assert (url, response.status_code, response.json()["code"]) == (
            url,
            403,
            "permission_denied",
        )
    for method, url, body, _ in config_writes(provider):
        assert (url, getattr(reader, method)(url, body, format="json").status_code) == (url, 403)
    assert not code.subscriptions.exists() and not code.events.exists()


def test_staff_token_does_everything(staff, code, provider):
    for url in READS:
        assert (url, staff.get(url.format(provider=provider)).status_code) == (url, 200)
    for url, body in CONSENT_WRITES:
        assert staff.post(url, body, format="json").status_code in (200, 201)
    for method, url, body, expected in config_writes(provider):
        response = getattr(staff, method)(url, body, format="json")
        assert (url, response.status_code) == (url, expected), response.content
    assert staff.get("/api/v1/contacts/15555551212/").status_code == 200


def test_token_with_no_permissions_reads_nothing(code):
    from tests.subscriptions.api.conftest import token_client

    nobody = token_client()
    for url in READS:
        assert nobody.get(url.format(provider=code.provider_id)).status_code == 403


def test_invalid_token_is_401(anonymous, code):
    anonymous.credentials(HTTP_AUTHORIZATION="Token not-a-real-key")
    response = anonymous.get("/api/v1/short-codes/")
    assert (response.status_code, response.json()["code"]) == (401, "authentication_failed")


def test_secrets_never_readable_even_by_staff(staff):
    account = ProviderAccountFactory(kind="sfmc")
    account.set_secrets({"client_secret": "hidden"})
    account.save()
    assert "hidden" not in staff.get("/api/v1/providers/").content.decode()
