"""Measurement: the received_at -> applied_at histogram and the dashboard's numbers."""

from datetime import timedelta

import pytest
from django.utils import timezone

from subscriptions.consent import services
from subscriptions.consent.services import Context
from subscriptions.inbound import mo
from subscriptions.models import Revocation, Source
from subscriptions.reporting.metrics import PROCESS_REGISTRY
from subscriptions.revocations import selectors
from subscriptions.revocations import services as revocations
from tests.factories import KeywordFactory, UserFactory

pytestmark = pytest.mark.django_db
PHONE = "+16501112222"


def observed(channel, path):
    """(sum of seconds, count) of the histogram for these labels."""
    labels = {"channel": channel, "path": path}
    name = "portal_revocation_apply_seconds"
    return (
        PROCESS_REGISTRY.get_sample_value(f"{name}_sum", labels) or 0.0,
        PROCESS_REGISTRY.get_sample_value(f"{name}_count", labels) or 0.0,
    )


def test_apply_times_go_to_the_histogram_and_the_dashboard():
    keyword = KeywordFactory()
    code = keyword.short_code
    services.opt_in(PHONE, keyword, Context(source=Source.API))
    _, letters_before = observed("letter", "at_receipt")
    _, decided_before = observed("sms", "decided")
    week_ago = timezone.now() - timedelta(days=7)

    revocations.record_revocation(
        PHONE,
        channel="letter",
        text="Please stop texting me. -- J.",
        ctx=Context(source=Source.ADMIN, actor=UserFactory(), reason="letter"),
        short_code=code,
        received_at=week_ago,
    )
    mo.handle_mo(mo.MoText(phone=PHONE, short_code=code, text="not interested"))
    mo.handle_mo(mo.MoText(phone="+16501113333", short_code=code, text="wrong number"))
    numbers = selectors.dashboard_numbers()
    assert (numbers.due, numbers.overdue, numbers.applied_last_30_days) == (2, 0, 1)
    assert numbers.median_seconds_to_apply == pytest.approx(7 * 86400, abs=60)

    review = Revocation.objects.filter(contact__phone=PHONE, verdict="review").get()
    revocations.decide(review.pk, "revoke", "means stop", actor=UserFactory())

    sum_letters, letters = observed("letter", "at_receipt")
    assert letters == letters_before + 1 and sum_letters >= 7 * 86400
    assert observed("sms", "decided")[1] == decided_before + 1
    later = selectors.dashboard_numbers(now=timezone.now() + timedelta(days=20))
    assert (later.due, later.overdue) == (1, 1)
    assert [r.current_status for r in selectors.queue(now=timezone.now() + timedelta(days=20))][
        :1
    ] == ["open"]
