"""Browser-only middleware skips the machine endpoints and still runs for pages."""

import pytest
from django.utils import translation

pytestmark = pytest.mark.django_db


def test_the_api_answers_in_the_portal_language_without_browser_headers(client):
    translation.activate("es")  # as a thread left by a visitor's Spanish page
    response = client.get("/api/v1/sendable/", HTTP_ACCEPT_LANGUAGE="es")
    assert response.status_code == 401
    assert "credentials were not provided" in response.json()["detail"]
    assert "Content-Security-Policy" not in response
    assert "X-Frame-Options" not in response
    assert response["X-Request-ID"]  # what identifies a request still runs
    assert response["X-Content-Type-Options"] == "nosniff"


def test_pages_keep_their_language_and_browser_headers(client):
    response = client.get("/preferences/", HTTP_ACCEPT_LANGUAGE="es")
    assert response.status_code == 200
    assert response["Content-Language"] == "es"
    assert "Content-Security-Policy" in response
    assert response["X-Frame-Options"] == "DENY"
