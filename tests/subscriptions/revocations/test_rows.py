"""A new revocation's rows written together (revocations/rows.py): one statement on
PostgreSQL, one INSERT each on SQLite; the same rows either way, validated as a save is."""

import pytest
from django.core.exceptions import ValidationError
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from subscriptions.common.errors import AppendOnlyViolation
from subscriptions.consent import services
from subscriptions.consent.context import Context
from subscriptions.models import (
    Confirmation,
    ProviderSync,
    Revocation,
    RevocationChannel,
    RevocationInStep,
    RevocationVerdict,
    Source,
)
from subscriptions.revocations import rows
from tests.factories import ContactFactory, KeywordFactory, ShortCodeFactory

pytestmark = pytest.mark.django_db


def new_revocation(contact, **fields):
    now = timezone.now()
    return Revocation(
        contact=contact,
        channel=RevocationChannel.SMS,
        text="please stop",
        received_at=now,
        due_by=now,
        verdict=RevocationVerdict.STOP,
        applied_at=now,
        confirmation=Confirmation.NONE,
        **fields,
    )


def test_the_revocation_its_scope_links_and_in_step_row_are_written():
    keyword = KeywordFactory()
    services.opt_in("+16501112222", keyword, Context(source=Source.API))
    contact = keyword.subscriptions.get().contact
    codes = [keyword.short_code, ShortCodeFactory()]
    syncs = list(ProviderSync.objects.all())
    assert syncs
    revocation = new_revocation(contact)
    step = RevocationInStep(in_step_at=revocation.applied_at, syncs=len(syncs), local_only=0)

    with CaptureQueriesContext(connection) as queries:
        rows.insert_new(revocation, codes, syncs, step)

    assert len(queries) == (1 if connection.vendor == "postgresql" else 4)
    stored = Revocation.objects.get()
    assert stored.pk == revocation.pk and not revocation._state.adding
    assert {c.pk for c in stored.short_codes.all()} == {c.pk for c in codes}
    assert {s.pk for s in stored.syncs.all()} == {s.pk for s in syncs}
    assert RevocationInStep.objects.get().pk == step.pk
    assert stored.in_step.syncs == len(syncs)


def test_without_links_or_step_only_the_revocation_and_its_scope_are_written():
    contact = ContactFactory()
    code = ShortCodeFactory()
    revocation = new_revocation(contact)

    rows.insert_new(revocation, [code], [], None)

    stored = Revocation.objects.get()
    assert list(stored.short_codes.all()) == [code]
    assert not stored.syncs.exists()
    assert not RevocationInStep.objects.exists()


def test_an_invalid_revocation_is_refused_before_anything_is_written():
    revocation = new_revocation(ContactFactory(), matched="x" * 500)  # max_length 120

    with pytest.raises(ValidationError, match="matched"):
        rows.insert_new(revocation, [ShortCodeFactory()], [], None)

    assert not Revocation.objects.exists()


def test_a_saved_revocation_cannot_be_written_again():
    revocation = new_revocation(ContactFactory())
    rows.insert_new(revocation, [ShortCodeFactory()], [], None)

    with pytest.raises(AppendOnlyViolation):
        rows.insert_new(revocation, [], [], None)
