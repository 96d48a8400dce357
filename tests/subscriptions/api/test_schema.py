"""/api/schema/ (OpenAPI 3) and /api/docs/ (Swagger UI from the sidecar: works offline)."""

import re

import pytest
import yaml

pytestmark = pytest.mark.django_db

CONTRACT_PATHS = {
    "/api/v1/providers/",
    "/api/v1/providers/{id}/",
    "/api/v1/short-codes/",
    "/api/v1/short-codes/{code}/",
    "/api/v1/short-codes/{code}/keywords/",
    "/api/v1/short-codes/{code}/keywords/{word}/",
    "/api/v1/contacts/{phone}/",
    "/api/v1/opt-ins/",
    "/api/v1/opt-outs/",
    "/api/v1/sendable/",
    "/api/v1/events/",
    "/api/v1/syncs/",
    "/api/v1/outbox/",
}


@pytest.fixture
def schema(anonymous):
    response = anonymous.get("/api/schema/")
    assert response.status_code == 200
    return yaml.safe_load(response.content)


def test_schema_documents_every_endpoint_with_seed_examples(schema):
    assert schema["openapi"].startswith("3.")
    assert set(schema["paths"]) >= CONTRACT_PATHS
    text = yaml.safe_dump(schema)
    assert "'15555551212'" in text and "'12345'" in text
    opt_in = schema["paths"]["/api/v1/opt-ins/"]["post"]
    assert {"201", "200", "400", "401", "403", "409", "422", "429"} <= set(opt_in["responses"])
    assert "Retry-After" in opt_in["responses"]["429"]["headers"]
    assert any(p["name"] == "Idempotency-Key" for p in opt_in["parameters"])
    assert "secrets" not in schema["components"]["schemas"]["ProviderAccount"]["properties"]
    assert "secrets" in schema["components"]["schemas"]["ProviderAccountRequest"]["properties"]


def test_docs_page_loads_only_local_assets(anonymous):
    html = anonymous.get("/api/docs/").content.decode()
    assert "swagger-ui" in html
    assert not re.search(r"""(src|href)=["']https?://""", html)


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_docs_render_with_no_internet(live_server, page, artifacts_dir):
    outside = []

    def only_local(route):
        url = route.request.url
        if url.startswith(live_server.url):
            return route.continue_()
        outside.append(url)
        return route.abort()

    page.route("**/*", only_local)
    errors = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.goto(f"{live_server.url}/api/docs/")
    page.wait_for_selector(".opblock", timeout=20_000)
    assert page.locator(".opblock").count() >= len(CONTRACT_PATHS)
    assert page.locator("text=/api/v1/opt-ins/").count() >= 1
    page.screenshot(path=artifacts_dir / "api-docs.png", full_page=False)
    assert outside == []
    assert [e for e in errors if "Content Security Policy" in e] == []
