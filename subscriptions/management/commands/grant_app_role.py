"""manage.py grant_app_role ROLE: run by the owner role after each `migrate`, grants the
application role what it needs and on the consent history only INSERT and SELECT
(deploy/README.md "Database roles"). --print shows the SQL instead of running it."""

from django.core.management.base import BaseCommand, CommandError
from django.db import connection, transaction

from subscriptions.common import dbroles


class Command(BaseCommand):
    help = "Grant the application's PostgreSQL role least privileges (history: INSERT, SELECT)."

    def add_arguments(self, parser):
        parser.add_argument("role")
        parser.add_argument("--print", action="store_true", help="Print the SQL; run nothing.")

    def handle(self, role, **options):
        if connection.vendor != "postgresql":
            raise CommandError("Roles are a PostgreSQL deployment's; this database is not.")
        statements = dbroles.grant_statements(role)
        if options["print"]:
            self.stdout.write(";\n".join(statements) + ";")
            return
        with transaction.atomic(), connection.cursor() as cursor:
            for sql in statements:
                cursor.execute(sql)
        self.stdout.write(f"{role}: granted; on {dbroles.HISTORY_TABLE} only INSERT, SELECT.")
