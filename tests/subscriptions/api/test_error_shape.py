"""Every API error carries `detail` and `code`; validation errors keep DRF's field keys;
unknown API paths answer JSON; PORTAL_REQUIRE_CONSENT_TEXT makes the wording mandatory."""

import pytest

pytestmark = pytest.mark.django_db


def test_validation_errors_keep_field_keys_beside_detail_and_code(staff, code):
    response = staff.post(
        "/api/v1/opt-ins/",
        {"phone": "not a phone", "short_code": "12345", "keyword": "JOIN"},
        format="json",
    )
    assert response.status_code == 400
    body = response.json()
    assert body["detail"] == "Invalid input." and body["code"] == "invalid_phone"
    assert isinstance(body["phone"], list) and body["phone"]


def test_missing_field_code_is_the_first_error_code(staff, code):
    body = staff.post("/api/v1/opt-ins/", {"short_code": "12345"}, format="json").json()
    assert body["code"] == "required" and "phone" in body and "keyword" in body


@pytest.mark.parametrize("path", ["/api/v1/nope/", "/api/nothing", "/api/v1/contacts/+1/x/y/"])
def test_unknown_api_paths_answer_json(anonymous, path):
    response = anonymous.get(path)
    assert response.status_code == 404
    assert response["Content-Type"] == "application/json"
    assert response.json() == {"detail": "No such API endpoint.", "code": "not_found"}


def test_other_unknown_paths_stay_html(client, db):
    response = client.get("/no-such-page/")
    assert response.status_code == 404 and "text/html" in response["Content-Type"]


def test_consent_text_can_be_required_for_api_opt_ins(staff, code, settings):
    body = {"phone": "+15555550123", "short_code": "12345", "keyword": "JOIN"}
    settings.PORTAL_REQUIRE_CONSENT_TEXT = False
    assert staff.post("/api/v1/opt-ins/", body, format="json").status_code == 201
    settings.PORTAL_REQUIRE_CONSENT_TEXT = True
    for missing in ({}, {"consent_text": "  "}):
        response = staff.post(
            "/api/v1/opt-ins/", {**body, "phone": "+15555550124", **missing}, format="json"
        )
        assert response.status_code == 400
        assert response.json()["code"] == "required" and "consent_text" in response.json()
    agreed = {**body, "phone": "+15555550124", "consent_text": "Yes, text me JOIN alerts."}
    assert staff.post("/api/v1/opt-ins/", agreed, format="json").status_code == 201
