"""Issue 16: the evidence export masks provider secrets in every encoding, also in call-log
rows written before that was done at logging time."""

import json
from urllib.parse import quote_plus

import pytest

from subscriptions.models import ProviderCall, ProviderSync
from subscriptions.reporting.evidence import timeline_rows
from tests.factories import ContactFactory, ProviderAccountFactory, ShortCodeFactory

pytestmark = pytest.mark.django_db
SECRET = "wc p%&+=/\"'\\ 456"


def test_the_evidence_export_masks_secrets_in_every_encoding():
    account = ProviderAccountFactory(kind="whatcounts")
    account.set_secrets({"password": SECRET})
    account.save()
    contact = ContactFactory()
    sync = ProviderSync.objects.create(
        contact=contact, short_code=ShortCodeFactory(provider=account), provider=account
    )
    ProviderCall.objects.create(
        provider=account,
        sync=sync,
        method="POST",
        url=f"https://example.test/?p={quote_plus(SECRET)}",
        request_body=f"r=acme&p={quote_plus(SECRET)}",
        response_body=json.dumps({"echo": SECRET}),
        error=f"FAILURE: password {SECRET}",
    )

    export = "\n".join(",".join(map(str, row)) for row in timeline_rows(contact))

    for form in (SECRET, quote_plus(SECRET), json.dumps(SECRET)[1:-1]):
        assert form not in export
    assert export.count("[redacted]") >= 4
