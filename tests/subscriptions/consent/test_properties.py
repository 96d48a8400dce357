"""Property: whatever order consent events arrive in, through the real services and
database, (1) when the newest event for a program is an opt-out the number ends opted out,
and (2) an import never moves an opted-out subscription back in."""

import itertools
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from subscriptions.consent import batch, selectors, services
from subscriptions.consent.batch import BatchRow
from subscriptions.consent.services import Context
from subscriptions.models import Outcome, Source, Status, Subscription, SubscriptionEvent
from tests.factories import KeywordFactory, ShortCodeFactory

pytestmark = pytest.mark.django_db

T0 = datetime(2026, 3, 1, tzinfo=UTC)
OPT_OUTS = {"opt_out", "stop_all", "import_out", "postback_out"}
KINDS = [
    "mo_in",
    "web_in",
    "api_in",
    "import_in",
    "postback_in",
    "restart",
    "confirm",
    *sorted(OPT_OUTS),
]
phones = (f"+1555777{n:04d}" for n in itertools.count())

events = st.lists(
    st.tuples(st.sampled_from(KINDS), st.integers(min_value=0, max_value=12)),
    min_size=1,
    max_size=12,
)


def apply(kind, minute, phone, keyword):
    code = keyword.short_code
    at = T0 + timedelta(minutes=minute)
    if kind in ("import_in", "import_out"):
        row = BatchRow(phone=phone, keyword=keyword, subscribe=kind == "import_in", occurred_at=at)
        return batch.apply_batch([row], Context(source=Source.IMPORT))
    source = {
        "mo_in": Source.MO,
        "web_in": Source.WEB,
        "api_in": Source.API,
        "postback_in": Source.POSTBACK,
        "postback_out": Source.POSTBACK,
    }.get(kind, Source.MO)
    ctx = Context(source=source, occurred_at=at)
    if kind in ("mo_in", "web_in", "api_in", "postback_in"):
        return services.opt_in(phone, keyword, ctx)
    if kind in ("opt_out", "postback_out"):
        return services.opt_out(phone, keyword, ctx)
    if kind == "stop_all":
        return services.stop_all(phone, code, ctx)
    if kind == "restart":
        return services.restart(phone, code, ctx)
    return services.confirm(phone, code, ctx)


@settings(
    max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(sequence=events, double_opt_in=st.booleans())
def test_newest_opt_out_wins_and_imports_never_re_opt_in(sequence, double_opt_in):
    keyword = KeywordFactory(short_code=ShortCodeFactory(), double_opt_in=double_opt_in)
    phone = next(phones)
    for kind, minute in sequence:
        apply(kind, minute, phone, keyword)

    newest_minute = max(minute for _, minute in sequence)
    newest_kind = [kind for kind, minute in sequence if minute == newest_minute][-1]
    if newest_kind in OPT_OUTS:
        assert not selectors.sendable(phone, keyword.short_code, keyword).sendable, sequence
        sub = Subscription.objects.filter(contact__phone=phone, keyword=keyword).first()
        assert sub is None or sub.status == Status.OPTED_OUT, sequence

    re_opt_ins = SubscriptionEvent.objects.filter(
        contact__phone=phone,
        source=Source.IMPORT,
        outcome=Outcome.APPLIED,
        old_status=Status.OPTED_OUT,
    )
    assert not re_opt_ins.exclude(new_status=Status.OPTED_OUT).exists(), sequence
