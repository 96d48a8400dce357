"""providers/, short-codes/, short-codes/{code}/keywords/."""

import pytest

from subscriptions.models import Keyword, ProviderAccount, ShortCode
from tests.factories import KeywordFactory, ProviderAccountFactory, ShortCodeFactory

pytestmark = pytest.mark.django_db


def test_provider_secrets_are_write_only_and_encrypted(staff):
    response = staff.post(
        "/api/v1/providers/",
        {
            "name": "SkyCore main",
            "kind": "skycore",
            "settings": {"api_url": "http://127.0.0.1:9/api"},
            "secrets": {"api_key": "s3cret"},
        },
        format="json",
    )
    assert response.status_code == 201
    body = response.json()
    account = ProviderAccount.objects.get()
    assert "secrets" not in body and "s3cret" not in response.content.decode()
    assert body["postback_url"] == f"http://testserver/webhooks/skycore/{account.postback_token}/"
    assert body["settings"] == {"api_url": "http://127.0.0.1:9/api"}
    assert account.secrets == {"api_key": "s3cret"}
    assert "s3cret" not in account.secrets_encrypted

    staff.patch(f"/api/v1/providers/{account.pk}/", {"secrets": {"api_key": ""}}, format="json")
    account.refresh_from_db()
    assert account.secrets == {"api_key": "s3cret"}  # empty keeps the stored secret
    got = staff.get(f"/api/v1/providers/{account.pk}/").json()
    assert "secrets" not in got and got["name"] == "SkyCore main"


def test_provider_without_postbacks_has_no_postback_url(reader):
    account = ProviderAccountFactory(kind="console")
    assert reader.get(f"/api/v1/providers/{account.pk}/").json()["postback_url"] is None


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"kind": "sfmc", "settings": {"api_url": "x"}}, "settings"),
        ({"kind": "console", "secrets": {"password": "x"}}, "secrets"),
        ({"kind": "carrier-pigeon"}, "kind"),
        ({"settings": {"base_url": "a\x00b"}, "kind": "whatcounts"}, "settings"),
    ],
)
def test_provider_bad_settings_are_400(staff, body, field):
    response = staff.post("/api/v1/providers/", {"name": "x", **body}, format="json")
    assert response.status_code == 400
    assert field in response.json()
    assert not ProviderAccount.objects.exists()


def test_provider_name_unique_and_nul_safe(staff):
    ProviderAccountFactory(name="Taken")
    assert "name" in staff.post("/api/v1/providers/", {"name": "Taken"}, format="json").json()
    nul = staff.post("/api/v1/providers/", {"name": "a\x00"}, format="json")
    assert nul.status_code == 400 and "name" in nul.json()


def test_provider_patch_updates_and_lists(staff):
    account = ProviderAccountFactory(name="Old", kind="whatcounts")
    response = staff.patch(
        f"/api/v1/providers/{account.pk}/",
        {"is_active": False, "settings": {"realm": "acme"}},
        format="json",
    )
    assert response.status_code == 200
    account.refresh_from_db()
    assert (account.is_active, account.settings) == (False, {"realm": "acme"})
    assert [p["name"] for p in staff.get("/api/v1/providers/").json()] == ["Old"]
    assert staff.get("/api/v1/providers/abc/").status_code == 404
    assert staff.put(f"/api/v1/providers/{account.pk}/", {}, format="json").status_code == 405


def test_short_code_create_read_patch(staff):
    account = ProviderAccountFactory()
    response = staff.post(
        "/api/v1/short-codes/",
        {
            "code": "12345",
            "name": "Acme deals",
            "brand": "Acme",
            "provider": account.pk,
            "double_opt_in_window_hours": 48,
        },
        format="json",
    )
    assert response.status_code == 201
    assert response.json()["code"] == "12345"
    staff.patch("/api/v1/short-codes/12345/", {"help_text": "{brand}: HELP text"}, format="json")
    short_code = ShortCode.objects.get()
    assert (short_code.double_opt_in_window_hours, short_code.help_text) == (
        48,
        "{brand}: HELP text",
    )
    assert staff.get("/api/v1/short-codes/").json()[0]["provider"] == account.pk
    assert staff.get("/api/v1/short-codes/99999/").status_code == 404
    assert staff.get("/api/v1/short-codes/%00/").status_code == 404


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"code": "12a45"}, "code"),
        ({"help_text": "{brand} {nonsense}"}, "help_text"),
        ({"stop_text": "{brand"}, "stop_text"),
        ({"double_opt_in_window_hours": 0}, "double_opt_in_window_hours"),
        ({"double_opt_in_window_hours": 10**12}, "double_opt_in_window_hours"),
        ({"provider": 10**20}, "provider"),
    ],
)
def test_short_code_bad_input_is_400(staff, body, field):
    account = ProviderAccountFactory()
    response = staff.post(
        "/api/v1/short-codes/",
        {"code": "12345", "name": "n", "brand": "b", "provider": account.pk, **body},
        format="json",
    )
    assert response.status_code == 400
    assert field in response.json()
    assert not ShortCode.objects.exists()


def test_short_code_duplicate_is_400(staff):
    existing = ShortCodeFactory(code="12345")
    response = staff.post(
        "/api/v1/short-codes/",
        {"code": "12345", "name": "n", "brand": "b", "provider": existing.provider_id},
        format="json",
    )
    assert response.status_code == 400 and "code" in response.json()


def test_keywords_of_a_code(staff, code):
    other = ShortCodeFactory()
    KeywordFactory(short_code=other, word="ELSEWHERE")
    response = staff.post(
        "/api/v1/short-codes/12345/keywords/",
        {"word": "deals", "title": "Weekly deals", "double_opt_in": True},
        format="json",
    )
    assert response.status_code == 201
    assert (response.json()["word"], response.json()["short_code"]) == ("DEALS", "12345")
    assert [k["word"] for k in staff.get("/api/v1/short-codes/12345/keywords/").json()] == [
        "DEALS",
        "JOIN",
        "VIP",
    ]
    assert staff.get("/api/v1/short-codes/12345/keywords/Deals/").json()["double_opt_in"]
    patched = staff.patch(
        "/api/v1/short-codes/12345/keywords/deals/", {"is_public": False}, format="json"
    )
    assert patched.status_code == 200
    assert Keyword.objects.get(word="DEALS").is_public is False


@pytest.mark.parametrize(
    ("word", "message"),
    [
        ("join", "JOIN exists on short code 12345"),
        ("stop", "carrier STOP word"),
        ("two words", "does not match"),
    ],
)
def test_keyword_bad_word_is_400(staff, code, word, message):
    response = staff.post("/api/v1/short-codes/12345/keywords/", {"word": word}, format="json")
    assert response.status_code == 400
    assert message in response.json()["word"][0]


def test_keyword_of_unknown_code_or_word_is_404(staff, code):
    assert staff.get("/api/v1/short-codes/99999/keywords/").json()["code"] == "not_found"
    response = staff.get("/api/v1/short-codes/12345/keywords/NOPE/")
    assert response.status_code == 404
    assert response.json()["detail"] == "No keyword 'NOPE' on short code 12345."
    assert (
        staff.post("/api/v1/short-codes/99999/keywords/", {"word": "X"}, format="json").status_code
        == 404
    )


def test_unknown_provider_id_is_404_with_detail_and_code(reader):
    assert reader.get("/api/v1/providers/0/").json() == {
        "detail": "No ProviderAccount matches the given query.",
        "code": "not_found",
    }


@pytest.mark.parametrize(
    ("template", "fragment"),
    [
        ("{brand}: {nope}", "Unknown placeholder {nope}"),
        ("{brand:>20000000}", "more than 1600 characters"),
    ],
)
def test_short_code_templates_are_refused_with_a_clear_message(staff, template, fragment):
    account = ProviderAccountFactory()
    response = staff.post(
        "/api/v1/short-codes/",
        {
            "code": "55555",
            "name": "n",
            "brand": "Acme",
            "provider": account.pk,
            "stop_text": template,
        },
        format="json",
    )
    assert response.status_code == 400
    assert fragment in response.json()["stop_text"][0]
    assert not ShortCode.objects.filter(code="55555").exists()


def test_a_stop_word_cannot_be_a_keyword(staff):
    code = ShortCodeFactory(code="12345")
    response = staff.post(
        f"/api/v1/short-codes/{code.code}/keywords/", {"word": "stop"}, format="json"
    )
    assert response.status_code == 400
    assert "carrier STOP word" in response.json()["word"][0]
    assert not Keyword.objects.filter(word="STOP").exists()
