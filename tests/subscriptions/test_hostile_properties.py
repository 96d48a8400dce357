"""Issue 16, property: arbitrary import rows, postback fields and inbound texts are each
applied or rejected, never a 500; afterwards a STOP for every number still applies and
leaves it unsendable, and the shared `events/` list still answers."""

import io
import json
import uuid
from xml.sax.saxutils import escape

import pytest
from django.test import Client
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from subscriptions.consent import selectors
from subscriptions.imports import pipeline
from subscriptions.models import ImportJob, ImportStatus, ProviderKind
from tests.factories import KeywordFactory, ProviderAccountFactory, ShortCodeFactory
from tests.subscriptions.api.conftest import READ_ONLY_PERMS, token_client

pytestmark = pytest.mark.django_db
PHONES = ["+15555550101", "15555550102", "(555) 555-0103", "+16501112222"]
E164 = ["+15555550101", "+15555550102", "+15555550103", "+16501112222"]
TIMES = [
    "",
    "2014-07-02T14:32:23-04",
    "2025-03-01T10:00:00Z",
    "0001-01-01T00:00:00+14:00",
    "9999-12-31T23:59:59-14:00",
    "2100-01-01T00:00:00Z",
    "2020-01-01T00:00:00+99:00",
]
HOSTILE = st.one_of(
    st.text(max_size=30),
    st.sampled_from(["\x00", "=cmd()", '"', '"a"b', "caf\u00e9", "\ud800", "x" * 12_000]),
)
NOT_500 = {200, 201, 202, 400, 404, 409, 413, 415}
SETTINGS = settings(
    max_examples=15,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


def field(valid):
    return st.one_of(st.sampled_from(valid), HOSTILE)


@pytest.fixture
def world():
    skycore = ProviderAccountFactory(kind=ProviderKind.SKYCORE)
    acme = ShortCodeFactory(code="12345")
    KeywordFactory(short_code=acme, word="JOIN")
    sky = ShortCodeFactory(code="123456", provider=skycore)
    KeywordFactory(short_code=sky, word="SAVE", provider_ref="1478")
    return {"skycore": skycore, "codes": [acme, sky]}


@pytest.fixture
def inbound():
    return token_client("submit_inbound")


@pytest.fixture
def reader():
    return token_client(*READ_ONLY_PERMS)


def stop_everything_and_check(inbound, reader, world):
    for phone in E164:
        for code in world["codes"]:
            response = inbound.post(
                "/api/v1/inbound/",
                {"from": phone, "to": code.code, "text": "STOP", "message_id": uuid.uuid4().hex},
                format="json",
            )
            assert response.status_code == 200, response.content
            assert not selectors.sendable(phone, code).sendable
    events = reader.get("/api/v1/events/")
    assert events.status_code == 200
    json.loads(events.content)


def csv_field(value):
    return '"' + value.replace('"', '""') + '"' if any(c in value for c in ',"\n\r') else value


row = st.tuples(
    field(PHONES),
    field(["12345", "123456", "99999"]),
    field(["JOIN", "join", "SAVE", "STOP"]),
    field(["Active", "Subscribe", "Unsubscribe", "maybe"]),
    field(TIMES),
    field(["", "Text JOIN"]),
)
line = st.one_of(
    row.map(lambda r: ",".join(csv_field(v) for v in r).encode("utf-8", "surrogatepass")),
    st.binary(max_size=80),
)


@SETTINGS
@given(lines=st.lists(line, max_size=12))
def test_arbitrary_import_rows_are_applied_or_rejected(world, inbound, reader, lines):
    data = b"phone,short_code,keyword,status,occurred_at,consent_text\n" + b"\n".join(lines)
    job = ImportJob.objects.create(file_name="fuzz.csv")
    pipeline.run(job, lambda: io.BytesIO(data))
    job.refresh_from_db()
    assert job.status == ImportStatus.DONE, job.failure
    assert job.processed == job.total
    assert job.applied + job.refused + job.unchanged + job.errors == job.processed
    stop_everything_and_check(inbound, reader, world)


@SETTINGS
@given(
    code=field(["N301", "N302"]),
    mobile=field(PHONES),
    ref=field(["1478", "9999"]),
    timestamp=field(TIMES),
    shortcode=field(["123456", "12345"]),
    title=HOSTILE,
    escape_fields=st.booleans(),
)
def test_arbitrary_postback_fields_never_answer_500(
    world, inbound, reader, code, mobile, ref, timestamp, shortcode, title, escape_fields
):
    values = [code, mobile, ref, timestamp, shortcode, title]
    if escape_fields:
        values = [escape(v) for v in values]
    code, mobile, ref, timestamp, shortcode, title = values
    body = (
        f"<POSTBACK><ORIGIN>SUB</ORIGIN><CODE>{code}</CODE><MOBILE>{mobile}</MOBILE>"
        f"<CAMPAIGNREF>{ref}</CAMPAIGNREF><TIMESTAMP>{timestamp}</TIMESTAMP>"
        f"<SHORTCODE>{shortcode}</SHORTCODE><CAMPAIGNTITLE>{title}</CAMPAIGNTITLE>"
        "</POSTBACK>"
    ).encode("utf-8", "surrogatepass")
    client = Client(raise_request_exception=False)
    url = f"/webhooks/skycore/{world['skycore'].postback_token}/"
    assert client.post(url, body, content_type="text/xml").status_code in NOT_500
    assert client.post(url, {"xml": body.decode("utf-8", "replace")}).status_code in NOT_500
    stop_everything_and_check(inbound, reader, world)


json_value = st.one_of(
    HOSTILE, st.integers(), st.none(), st.lists(st.text(max_size=5), max_size=3), st.booleans()
)


@SETTINGS
@given(
    sender=st.one_of(st.sampled_from(PHONES), json_value),
    to=st.one_of(st.sampled_from(["12345", "123456", "99999"]), json_value),
    text=st.one_of(
        st.sampled_from(["JOIN", "STOP", "START", "YES", "HELP", "stop please"]), json_value
    ),
    received_at=st.one_of(st.sampled_from(TIMES), json_value),
    message_id=st.one_of(st.text(max_size=20), json_value),
)
def test_arbitrary_inbound_fields_never_answer_500(
    world, inbound, reader, sender, to, text, received_at, message_id
):
    inbound.raise_request_exception = False
    body = {"from": sender, "to": to, "text": text, "received_at": received_at}
    body["message_id"] = message_id
    raw = json.dumps(body, ensure_ascii=True)
    response = inbound.post("/api/v1/inbound/", data=raw, content_type="application/json")
    assert response.status_code in NOT_500, response.content[:300]
    stop_everything_and_check(inbound, reader, world)
