"""POST /webhooks/skycore/{token}/: SkyCore Opt-in Status Postbacks (seed 003)."""

import io
import tracemalloc
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from django.test import RequestFactory
from django.utils import timezone

from subscriptions.models import (
    Contact,
    InboundReceipt,
    Keyword,
    Outcome,
    PostbackProblem,
    ProviderKind,
    Source,
    Status,
    Subscription,
    SubscriptionEvent,
    UnmatchedPostback,
)
from subscriptions.providers.skycore import views
from tests.factories import KeywordFactory, ProviderAccountFactory, ShortCodeFactory

pytestmark = pytest.mark.django_db

DATA = Path(__file__).parents[1] / "data"
SEED_N301 = (DATA / "seed003_n301.xml").read_bytes()  # seed 003, byte for byte
SEED_N302 = (DATA / "seed003_n302.xml").read_bytes()
SEED_TIME = datetime(2014, 7, 2, 18, 32, 23, tzinfo=UTC)  # 14:32:23-04


def postback_xml(
    code="N301",
    mobile="16501112222",
    ref="1478",
    timestamp="2014-07-02T14:32:23-04",
    shortcode="123456",
    title="My Campaign Name",
    source="API",
    origin="SUB",
):
    return (
        f"<?xml version='1.0'?>\n<POSTBACK><ORIGIN>{origin}</ORIGIN><CODE>{code}</CODE>"
        f"<MOBILE>{mobile}</MOBILE><CAMPAIGNREF>{ref}</CAMPAIGNREF>"
        f"<TIMESTAMP>{timestamp}</TIMESTAMP><SHORTCODE>{shortcode}</SHORTCODE>"
        f"<CAMPAIGNTITLE>{title}</CAMPAIGNTITLE><BRANDNAME>My Brand Name</BRANDNAME>"
        f"<SOURCE>{source}</SOURCE></POSTBACK>"
    ).encode()


@pytest.fixture
def account():
    return ProviderAccountFactory(name="SkyCore main", kind=ProviderKind.SKYCORE)


@pytest.fixture
def code(account):
    return ShortCodeFactory(code="123456", provider=account)


@pytest.fixture
def campaign(code):
    return KeywordFactory(short_code=code, word="SAVE", title="Savings", provider_ref="1478")


@pytest.fixture
def post(client, account):
    def post(body, token=None, content_type="text/xml", **extra):
        url = f"/webhooks/skycore/{token or account.postback_token}/"
        if content_type is None:  # a form: the test client encodes it as multipart
            return client.post(url, data=body, **extra)
        return client.post(url, data=body, content_type=content_type, **extra)

    return post


def sub(phone):
    return Subscription.objects.get(contact__phone=phone)


# The seed samples ---------------------------------------------------------------------------


def test_seed_n301_sample_byte_for_byte_opts_the_number_in(post, campaign, account):
    response = post(SEED_N301)

    assert response.status_code == 200
    assert response.json() == {"status": "applied", "keyword": "SAVE", "discovered": False}
    subscription = sub("+16501112222")
    assert (subscription.status, subscription.keyword) == (Status.OPTED_IN, campaign)
    assert subscription.last_occurred_at == SEED_TIME
    event = SubscriptionEvent.objects.get()
    assert (event.source, event.outcome, event.new_status) == (
        Source.POSTBACK,
        Outcome.APPLIED,
        Status.OPTED_IN,
    )
    assert event.occurred_at == SEED_TIME
    assert event.raw_payload == SEED_N301.decode()
    assert event.detail["provider_account_id"] == account.pk
    assert event.detail["provider_source"] == "API"
    assert event.external_id.startswith(f"skycore:{account.pk}:")


def test_seed_n302_sample_opts_the_number_out(post, campaign):
    response = post(SEED_N302)

    assert response.status_code == 200
    subscription = sub("+16502424956")
    assert (subscription.status, subscription.last_source) == (Status.OPTED_OUT, Source.POSTBACK)


def test_the_xml_may_come_as_the_form_field_xml(post, campaign):
    response = post({"xml": SEED_N301.decode()}, content_type=None)

    assert response.status_code == 200
    assert sub("+16501112222").status == Status.OPTED_IN
    assert SubscriptionEvent.objects.get().raw_payload == SEED_N301.decode()


def test_the_xml_may_come_urlencoded(post, campaign):
    from urllib.parse import urlencode

    response = post(
        urlencode({"xml": SEED_N302.decode()}), content_type="application/x-www-form-urlencoded"
    )

    assert response.status_code == 200
    assert sub("+16502424956").status == Status.OPTED_OUT


def test_form_post_without_the_xml_field_is_400(post, campaign):
    response = post({"other": "x"}, content_type=None)

    assert response.status_code == 400
    assert response.json()["code"] == "missing_xml"


def test_the_same_postback_five_times_is_applied_once(post, campaign):
    answers = [post(SEED_N301).json()["status"] for _ in range(5)]

    assert answers == ["applied"] + ["duplicate"] * 4
    assert SubscriptionEvent.objects.count() == 1
    assert InboundReceipt.objects.get(source=Source.POSTBACK).repeats == 4


def test_retry_by_form_field_of_a_raw_body_postback_is_still_a_duplicate(post, campaign):
    post(SEED_N301)

    assert post({"xml": SEED_N301.decode()}, content_type=None).json()["status"] == "duplicate"
    assert SubscriptionEvent.objects.count() == 1


def test_n302_then_an_older_n301_leaves_the_number_opted_out(post, campaign):
    post(postback_xml("N302", timestamp="2014-07-02T15:00:00-04:00"))

    response = post(postback_xml("N301", timestamp="2014-07-02T14:32:23-04"))

    assert response.json()["status"] == "stale"
    assert sub("+16501112222").status == Status.OPTED_OUT
    stale = SubscriptionEvent.objects.latest("id")
    assert (stale.outcome, stale.new_status) == (Outcome.STALE, "")


def test_a_newer_n301_after_n302_opts_back_in(post, campaign):
    post(postback_xml("N302", timestamp="2014-07-02T15:00:00-04:00"))

    post(postback_xml("N301", timestamp="2014-07-02T16:00:00-04"))

    assert sub("+16501112222").status == Status.OPTED_IN


@pytest.mark.parametrize(
    "timestamp",
    [
        "2014-07-02T14:32:23-04",
        "2014-07-02T14:32:23-04:00",
        "2014-07-02T18:32:23Z",
        "2014-07-02T18:32:23+00:00",
    ],
)
def test_timestamp_offsets_are_parsed_leniently(post, campaign, timestamp):
    assert post(postback_xml(timestamp=timestamp)).status_code == 200

    assert sub("+16501112222").last_occurred_at == SEED_TIME


@pytest.mark.parametrize("source", ["MANAGER", "MO", "WEB", "API"])
def test_provider_source_is_recorded_in_the_detail_of_a_postback_event(post, campaign, source):
    post(postback_xml(source=source))

    event = SubscriptionEvent.objects.get()
    assert event.source == Source.POSTBACK
    assert event.detail["provider_source"] == source
    assert event.detail["provider_source_label"] != "not documented"


def test_imported_as_unsubscribed_source_is_an_opt_out_with_its_label(post, campaign):
    post(postback_xml("N302", source="IMPORTED AS UNSUBSCRIBED"))

    event = SubscriptionEvent.objects.get()
    assert (event.new_status, event.detail["provider_source"]) == (
        Status.OPTED_OUT,
        "IMPORTED AS UNSUBSCRIBED",
    )
    assert "import" in event.detail["provider_source_label"]


# Unknown campaign, unknown code, wrong token ------------------------------------------------


def test_unknown_campaignref_on_a_known_code_creates_a_discovered_program(post, code, account):
    response = post(SEED_N301)

    assert response.json() == {"status": "applied", "keyword": "MYCAMPAIGNNAME", "discovered": True}
    keyword = Keyword.objects.get(short_code=code)
    assert (keyword.word, keyword.title, keyword.provider_ref, keyword.discovered) == (
        "MYCAMPAIGNNAME",
        "My Campaign Name",
        "1478",
        True,
    )
    assert (keyword.kind, keyword.provider, keyword.is_public) == ("program", account, False)
    assert sub("+16501112222").keyword == keyword


def test_the_next_postback_for_a_discovered_program_reuses_it(post, code):
    post(SEED_N301)
    post(SEED_N302)

    assert Keyword.objects.filter(short_code=code).count() == 1
    assert sub("+16502424956").keyword.word == "MYCAMPAIGNNAME"


@pytest.mark.parametrize(
    ("title", "word"),
    [
        ("My Campaign Name", "MYCAMPAIGNNAME2"),  # the first one is taken by another campaign
        ("Stop", "STOP2"),  # never a CTIA word
        ("Été 2024 — VIP!", "ETE2024VIP"),
        ("", "CAMPAIGN1478"),
        ("<>&;", "CAMPAIGN1478"),
        ("x" * 200, "X" * 30),
    ],
)
def test_discovered_words_are_safe_and_unique(post, code, title, word):
    KeywordFactory(short_code=code, word="MYCAMPAIGNNAME", provider_ref="999")

    title_xml = title.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    assert post(postback_xml(title=title_xml).decode(), content_type="text/xml").status_code == 200

    assert Keyword.objects.get(short_code=code, provider_ref="1478").word == word


def test_unknown_short_code_is_202_with_a_visible_unmatched_record(post, account):
    response = post(SEED_N301, REMOTE_ADDR="10.1.2.3")

    assert response.status_code == 202
    assert response.json()["status"] == "unmatched"
    record = UnmatchedPostback.objects.get()
    assert (record.provider, record.problem, record.short_code, record.remote_addr) == (
        account,
        PostbackProblem.UNKNOWN_SHORT_CODE,
        "123456",
        "10.1.2.3",
    )
    assert record.raw_payload == SEED_N301.decode()
    assert not Contact.objects.exists() and not SubscriptionEvent.objects.exists()


@pytest.mark.parametrize("remote_addr", ["", "unix:/run/gunicorn.sock"])
def test_a_client_address_that_is_not_an_ip_is_recorded_as_unknown(post, account, remote_addr):
    assert post(SEED_N301, REMOTE_ADDR=remote_addr).status_code == 202

    assert UnmatchedPostback.objects.get().remote_addr is None


def test_a_code_served_by_another_account_is_not_changed_by_this_token(post, account):
    ShortCodeFactory(code="123456")  # its own (console) provider, no keyword of `account`

    response = post(SEED_N301)

    assert response.status_code == 202
    assert UnmatchedPostback.objects.get().problem == PostbackProblem.FOREIGN_SHORT_CODE
    assert not Keyword.objects.exists() and not SubscriptionEvent.objects.exists()


def test_a_shared_code_accepts_postbacks_for_the_accounts_own_keywords(post, account):
    shared = ShortCodeFactory(code="123456")
    KeywordFactory(short_code=shared, word="SKY", provider=account, provider_ref="1478")

    assert post(SEED_N301).status_code == 200

    assert sub("+16501112222").keyword.word == "SKY"


@pytest.mark.parametrize("token", ["wrong-token", "x" * 300])
def test_wrong_token_is_404_and_changes_nothing(post, campaign, token):
    response = post(SEED_N301, token=token)

    assert response.status_code == 404
    assert not SubscriptionEvent.objects.exists() and not UnmatchedPostback.objects.exists()


@pytest.mark.parametrize("kind_or_inactive", ["console", "inactive"])
def test_token_of_a_non_skycore_or_inactive_account_is_404(post, campaign, kind_or_inactive):
    other = ProviderAccountFactory(kind=ProviderKind.CONSOLE)
    if kind_or_inactive == "inactive":
        other.kind, other.is_active = ProviderKind.SKYCORE, False
        other.save()

    assert post(SEED_N301, token=other.postback_token).status_code == 404
    assert not SubscriptionEvent.objects.exists()


def test_get_is_not_allowed(client, account):
    assert client.get(f"/webhooks/skycore/{account.postback_token}/").status_code == 405


# Bad input: 400, nothing changed, the attempt logged -----------------------------------------


@pytest.mark.parametrize(
    ("body", "error_code", "words"),
    [
        (b"<POSTBACK><CODE>N301", "malformed_xml", "Malformed XML"),
        (b"not xml at all", "malformed_xml", "Malformed XML"),
        (b"", "missing_xml", "empty"),
        (b"<OTHER/>", "invalid_postback", "<POSTBACK>"),
        (postback_xml(origin="MT"), "invalid_postback", "ORIGIN"),
        (postback_xml(code="N999"), "invalid_postback", "CODE"),
        (postback_xml(mobile="12"), "invalid_phone", "MOBILE"),
        (postback_xml(mobile=""), "invalid_postback", "MOBILE is missing"),
        (postback_xml(ref=""), "invalid_postback", "CAMPAIGNREF is missing"),
        (postback_xml(ref="9" * 101), "invalid_postback", "CAMPAIGNREF is longer"),
        (postback_xml(shortcode=""), "invalid_postback", "SHORTCODE is missing"),
        (postback_xml(timestamp="yesterday"), "invalid_postback", "TIMESTAMP"),
        (postback_xml(timestamp="2014-07-02T14:32:23"), "invalid_postback", "no UTC offset"),
        (postback_xml(timestamp="2999-01-01T00:00:00-04"), "invalid_postback", "future"),
        # Issue 16: PostgreSQL would keep these, Python could not read them back.
        (postback_xml(timestamp="0001-01-01T00:00:00+14:00"), "invalid_postback", "range"),
        (postback_xml(timestamp="9999-12-31T23:59:59-14:00"), "invalid_postback", "TIMESTAMP"),
        (postback_xml(timestamp="2014-07-02T14:32:23+99:00"), "invalid_postback", "TIMESTAMP"),
        (postback_xml(timestamp="1999-12-31T12:00:00-04"), "invalid_postback", "before 2000"),
    ],
)
def test_bad_postbacks_are_400_with_a_clear_message_and_logged(
    post, campaign, account, body, error_code, words
):
    response = post(body)

    assert response.status_code == 400
    assert response.json()["code"] == error_code
    assert words in response.json()["detail"]
    assert not SubscriptionEvent.objects.exists() and not Contact.objects.exists()
    record = UnmatchedPostback.objects.get()
    assert (record.provider, record.problem) == (account, PostbackProblem.REJECTED)
    assert record.raw_payload == body.decode()
    assert words in record.reason


def test_a_timestamp_a_little_ahead_of_our_clock_is_accepted(post, campaign):
    ahead = (timezone.now() + timedelta(minutes=2)).isoformat()

    assert post(postback_xml(timestamp=ahead)).status_code == 200


BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol1 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol2 "&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
 <!ENTITY lol5 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
 <!ENTITY lol6 "&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;">
 <!ENTITY lol7 "&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;">
 <!ENTITY lol8 "&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;">
 <!ENTITY lol9 "&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;">
]>
<POSTBACK><ORIGIN>SUB</ORIGIN><CODE>N301</CODE><MOBILE>16501112222</MOBILE>
<CAMPAIGNREF>1478</CAMPAIGNREF><TIMESTAMP>2014-07-02T14:32:23-04</TIMESTAMP>
<SHORTCODE>123456</SHORTCODE><CAMPAIGNTITLE>&lol9;</CAMPAIGNTITLE></POSTBACK>"""

EXTERNAL_ENTITY = b"""<?xml version="1.0"?>
<!DOCTYPE POSTBACK [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>
<POSTBACK><ORIGIN>SUB</ORIGIN><CODE>N301</CODE><MOBILE>16501112222</MOBILE>
<CAMPAIGNREF>1478</CAMPAIGNREF><TIMESTAMP>2014-07-02T14:32:23-04</TIMESTAMP>
<SHORTCODE>123456</SHORTCODE><CAMPAIGNTITLE>&xxe;</CAMPAIGNTITLE></POSTBACK>"""

EXTERNAL_DTD = b"""<?xml version="1.0"?>
<!DOCTYPE POSTBACK SYSTEM "http://203.0.113.9/evil.dtd">
<POSTBACK><ORIGIN>SUB</ORIGIN></POSTBACK>"""


@pytest.mark.parametrize(
    "body",
    [BILLION_LAUGHS, EXTERNAL_ENTITY, EXTERNAL_DTD],
    ids=["billion-laughs", "external-entity", "external-dtd"],
)
def test_xml_bombs_and_external_entities_are_400_without_memory_blow_up(post, code, body):
    tracemalloc.start()
    try:
        response = post(body)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()

    assert response.status_code == 400
    assert response.json()["code"] == "forbidden_xml"
    assert peak < 5 * 1024 * 1024  # the expanded bomb would be ~3 GB
    assert not Keyword.objects.exists() and not SubscriptionEvent.objects.exists()
    assert b"root:" not in UnmatchedPostback.objects.get().raw_payload.encode()


# Size limit ---------------------------------------------------------------------------------


def test_a_10_mb_body_is_refused(post, campaign):
    response = post(b"<POSTBACK>" + b"x" * (10 * 1024 * 1024) + b"</POSTBACK>")

    assert response.status_code == 413
    assert response.json()["code"] == "too_large"
    assert not SubscriptionEvent.objects.exists()
    assert UnmatchedPostback.objects.get().problem == PostbackProblem.REJECTED


class CountingStream(io.RawIOBase):
    """A request body of `size` bytes produced on demand; remembers how much was read."""

    def __init__(self, size):
        self.size, self.read_bytes = size, 0

    def readable(self):
        return True

    def readinto(self, buffer):
        n = min(len(buffer), self.size - self.read_bytes)
        buffer[:n] = b"x" * n
        self.read_bytes += n
        return n


def test_a_10_mb_body_is_refused_without_reading_it(account, campaign):
    size = 10 * 1024 * 1024
    stream = CountingStream(size)
    request = RequestFactory().generic(
        "POST", f"/webhooks/skycore/{account.postback_token}/", content_type="text/xml"
    )
    request.META.update({"CONTENT_LENGTH": str(size), "wsgi.input": stream})
    request._stream = stream

    response = views.skycore_postback(request, token=account.postback_token)

    assert response.status_code == 413
    assert stream.read_bytes == 0


def test_a_body_just_under_the_limit_is_read_and_parsed(post, campaign):
    padding = b" " * (64 * 1024 - len(SEED_N301) - 1)

    assert post(SEED_N301 + padding).status_code == 200


def test_an_unreadable_content_length_is_400(account, campaign):
    request = RequestFactory().post(
        f"/webhooks/skycore/{account.postback_token}/", data=SEED_N301, content_type="text/xml"
    )
    request.META["CONTENT_LENGTH"] = "lots"

    response = views.skycore_postback(request, token=account.postback_token)

    assert response.status_code == 400
    assert not SubscriptionEvent.objects.exists()


def test_unmatched_postbacks_are_visible_to_staff_in_the_admin(post, account, admin_client):
    post(SEED_N301)  # no short code 123456 in the portal

    record = UnmatchedPostback.objects.get()
    listing = admin_client.get("/admin/subscriptions/unmatchedpostback/")
    detail = admin_client.get(f"/admin/subscriptions/unmatchedpostback/{record.pk}/change/")

    assert listing.status_code == 200 and "Short code unknown to the portal" in listing.text
    assert detail.status_code == 200 and "My Campaign Name" in detail.text


# Issue 16: hostile bytes are a 400 (or applied), never a 500, and storable on PostgreSQL ----


@pytest.mark.parametrize(
    "body",
    [
        postback_xml(title="My\x00Campaign"),
        postback_xml().replace(b"My Campaign Name", b"caf\xe9"),
        postback_xml(title="t" * 20_000),
        postback_xml(timestamp="2014-07-02T14:32:23+25:00"),
    ],
)
def test_hostile_bytes_in_a_postback_never_answer_500(post, campaign, body):
    response = post(body)

    assert response.status_code in (200, 400, 413)
    for raw in [
        *UnmatchedPostback.objects.values_list("raw_payload", flat=True),
        *SubscriptionEvent.objects.values_list("raw_payload", flat=True),
    ]:
        assert "\x00" not in raw


def test_a_nul_in_the_form_field_is_stored_escaped(post, campaign, client, account):
    response = client.post(
        f"/webhooks/skycore/{account.postback_token}/",
        data={"xml": postback_xml(title="A\x00B").decode()},
    )
    assert response.status_code == 400
    assert "\x00" not in UnmatchedPostback.objects.get().raw_payload
