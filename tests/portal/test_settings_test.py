"""The test database behaves as the portal's own under concurrent readers and writers."""

import pytest
from django.contrib.auth.models import User
from django.db import connections

from tests.factories import UserFactory


@pytest.mark.django_db(transaction=True)
def test_a_reader_mid_statement_does_not_fail_a_writer():
    # A live-server thread rendering a page while the test writes: on Django's shared-cache
    # memory SQLite database the write failed at once ("database table is locked").
    users = UserFactory.create_batch(3)
    reader = connections.create_connection("default")
    try:
        with reader.cursor() as cursor:
            cursor.execute("SELECT id FROM auth_user")
            assert cursor.fetchone() is not None  # the statement stays open

            User.objects.filter(pk=users[0].pk).update(first_name="Written")
    finally:
        reader.close()

    assert User.objects.get(pk=users[0].pk).first_name == "Written"
