"""Contacts: one per number, enforced by the database and by model validation."""

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection, transaction

from subscriptions.models import Contact

pytestmark = pytest.mark.django_db


def test_a_number_is_one_contact_in_the_database_and_in_validation():
    Contact.objects.create(phone="+12025550101")
    with pytest.raises(ValidationError, match="already exists"):
        Contact(phone="+12025550101").full_clean()
    with pytest.raises(IntegrityError), transaction.atomic():
        Contact.objects.create(phone="+12025550101")


@pytest.mark.postgres
def test_the_number_has_one_index_on_postgresql():
    """No second (LIKE-prefix) index on the number for every new contact to write."""
    with connection.cursor() as cur:
        cur.execute(
            "SELECT indexdef FROM pg_indexes WHERE tablename = %s AND indexdef LIKE %s",
            [Contact._meta.db_table, "%(phone%"],
        )
        assert [row[0].split(" USING ")[1] for row in cur.fetchall()] == ["btree (phone)"]
