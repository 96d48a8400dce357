"""Issue 16: no CSV export carries a formula a spreadsheet would run (OWASP CSV injection):
the subscriptions export, the evidence export and the import errors CSV."""

import pytest

from subscriptions.consent import services
from subscriptions.consent.services import Context
from subscriptions.imports import pipeline
from subscriptions.models import Contact
from subscriptions.reporting.csv_export import safe_cell
from tests.factories import KeywordFactory, UserFactory
from tests.subscriptions.admin.test_pages import rows_of
from tests.subscriptions.imports.helpers import csv_bytes, run_csv

pytestmark = pytest.mark.django_db
FORMULAS = ['=HYPERLINK("http://x")', "+SUM(A1)", "-2+3", "@cmd", "\tx", "\rx"]


@pytest.mark.parametrize("text", FORMULAS)
def test_formula_cells_are_prefixed_with_a_quote(text):
    assert safe_cell(text) == "'" + text


@pytest.mark.parametrize("value", ["+15555551212", "-3", "12345", "opted_in", 7, None])
def test_plain_values_and_numbers_are_left_alone(value):
    assert safe_cell(value) == value


def test_evidence_and_errors_exports_escape_formulas(client):
    client.force_login(UserFactory(is_staff=True, is_superuser=True))
    keyword = KeywordFactory(word="JOIN", short_code__code="12345")
    services.opt_in(
        "+15555551212", keyword, Context(source="api", consent_text="=cmd|' /C calc'!A0")
    )
    contact = Contact.objects.get()
    evidence = rows_of(client.get(f"/admin/subscriptions/contact/{contact.pk}/evidence.csv"))
    job = run_csv(csv_bytes("=1+1,12345,JOIN,Active,,", "+15555551212,12345,@SUM(1),Active,,"))
    errors = list(pipeline.errors_csv_rows(job))
    errors_csv = rows_of(client.get(f"/admin/subscriptions/importjob/{job.pk}/errors.csv"))

    assert len(errors) == 3
    for rows in (evidence, errors_csv):
        cells = [cell for row in rows for cell in row]
        assert not [c for c in cells if c[:1] in ("=", "@") or (c[:1] in "+-" and c[1:2].isalpha())]
    assert any(cell == "'=cmd|' /C calc'!A0" for row in evidence for cell in row)
