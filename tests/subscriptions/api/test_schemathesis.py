"""Schemathesis against the live schema (/api/schema/ served by a live server): generated
requests, valid and invalid, for every operation with a staff token. Zero 5xx and zero
schema violations (status codes, content types, bodies, headers) allowed.

SCHEMATHESIS_MAX_EXAMPLES (default 200) sets the generated cases per operation.
"""

import os
from collections import Counter

import pytest
import requests
import schemathesis
from drf_spectacular.generators import SchemaGenerator
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from subscriptions.consent import services
from subscriptions.consent.services import Context
from tests.factories import ProviderAccountFactory
from tests.subscriptions.api.conftest import STAFF_PERMS, token_client

pytestmark = pytest.mark.django_db(transaction=True)
MAX_EXAMPLES = int(os.environ.get("SCHEMATHESIS_MAX_EXAMPLES", "200"))
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    response_headers_conformance,
]


def _operations():
    paths = SchemaGenerator().get_schema(request=None, public=True)["paths"]
    return [
        (method.upper(), path)
        for path, operations in paths.items()
        for method in operations
        if method in ("get", "post", "patch")
    ]


@pytest.fixture
def world(code):
    """Seed-format data for the generated requests to find: 12345 / JOIN, a subscriber,
    a STOP, a SkyCore account."""
    provider = ProviderAccountFactory(kind="skycore")
    join = code.keywords.get(word="JOIN")
    services.opt_in("15555551212", join, Context(source="mo"))
    services.stop_all("15555551213", code, Context(source="mo"))
    client = token_client(*STAFF_PERMS)
    client.seed_path = {"code": "12345", "word": "JOIN", "phone": "15555551212", "id": provider.pk}
    return client


@pytest.mark.parametrize(("method", "path"), _operations())
def test_operation_against_live_schema(live_server, world, method, path, artifacts_dir):
    schema = schemathesis.openapi.from_url(f"{live_server.url}/api/schema/")
    operation = schema[path][method]
    auth = {"Authorization": world._credentials["HTTP_AUTHORIZATION"]}
    # Random path values mostly name nothing (404); a third of the cases use rows that exist.
    seeded = {name: value for name, value in world.seed_path.items() if f"{{{name}}}" in path}
    cases = st.one_of(
        operation.as_strategy(schemathesis.GenerationMode.POSITIVE),
        operation.as_strategy(schemathesis.GenerationMode.NEGATIVE),
        operation.as_strategy(schemathesis.GenerationMode.POSITIVE, path_parameters=seeded),
    )
    seen = []

    @settings(
        max_examples=MAX_EXAMPLES,
        deadline=None,
        database=None,
        derandomize=True,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(case=cases)
    def check(case):
        # A connection per case: keep-alive on Django's test server costs ~80 ms a request.
        with requests.Session() as session:
            response = case.call_and_validate(
                base_url=live_server.url, session=session, headers=auth, checks=CHECKS
            )
        seen.append(response.status_code)

    check()
    summary = f"{method} {path}: {len(seen)} cases, statuses {dict(Counter(seen))}"
    (artifacts_dir / "cases.txt").write_text(summary + "\n")
    assert len(seen) >= MAX_EXAMPLES, summary
    assert all(code < 500 for code in seen), summary
