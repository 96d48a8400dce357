"""Streamed CSV downloads: rows are formatted as they are read, never held in memory.

Every cell that a spreadsheet would run as a formula (text starting with = + - @, a tab or
a carriage return: OWASP "CSV Injection") is prefixed with a single quote, so a phone
number, a consent wording or a handset's text from outside can never run in the
spreadsheet of the staff member who opens the export. Plain numbers ("+15555551212",
"-3") cannot carry a formula and are left as they are.
"""

import csv
import re

from django.http import StreamingHttpResponse

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
PLAIN_NUMBER = re.compile(r"[+-]?\d+(\.\d+)?")


class _Echo:
    """A csv.writer target that hands each formatted line back instead of buffering it."""

    def write(self, value):
        return value


def safe_cell(value):
    """`value` as a CSV cell that no spreadsheet runs as a formula."""
    if not isinstance(value, str) or not value.startswith(FORMULA_STARTS):
        return value
    if PLAIN_NUMBER.fullmatch(value):
        return value
    return "'" + value


def safe_row(row):
    return [safe_cell(value) for value in row]


def streaming_csv_response(rows, filename):
    writer = csv.writer(_Echo())
    response = StreamingHttpResponse(
        (writer.writerow(safe_row(row)) for row in rows), content_type="text/csv; charset=utf-8"
    )
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response
