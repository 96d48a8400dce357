"""The record reader's plain-line fast path (imports/records.py) reads what csv.reader reads."""

import csv
import io

from hypothesis import given
from hypothesis import strategies as st

from subscriptions.imports import records

# Lines made of the characters that matter to CSV, and others.
LINE = st.text(alphabet=st.sampled_from(list(',"\r\n ab1+é\t;')), max_size=30).map(
    lambda text: text.encode()
)
ENDING = st.sampled_from([b"", b"\n", b"\r\n"])


def _through_csv(raw: bytes, line: int):
    text = raw.decode()
    try:
        rows = list(csv.reader(io.StringIO(text, newline=""), strict=True))
    except csv.Error as exc:
        return records.BadRecord(line, f"not a CSV row ({exc})", [])
    fields = rows[0] if rows else []
    if len(rows) > 1:
        return records.BadRecord(line, "not a CSV row (text after a closing quote)", fields)
    return records.Record(line, fields)


@given(LINE, ENDING)
def test_any_line_reads_as_the_csv_module_reads_it(body, ending):
    raw = body + ending
    if not raw.strip(b"\r\n"):
        return  # blank records are skipped before parsing
    assert records._parse(raw, 7) == _through_csv(raw, 7)


def test_a_plain_line_is_split_on_commas_without_the_csv_module():
    assert records._plain("+12025550101,12345,JOIN,Active,,\r\n") == (
        "+12025550101,12345,JOIN,Active,,"
    )
    assert records._plain('+12025550101,"12345"\n') is None
    assert records._plain("a\rb\n") is None
    assert records._parse(b"a,,b\n", 2) == records.Record(2, ["a", "", "b"])


@given(st.lists(st.tuples(LINE, ENDING), max_size=12), st.booleans())
def test_counting_finds_as_many_records_as_reading(lines, long_line):
    data = b"".join(body + ending for body, ending in lines)
    if long_line:  # one physical line over the record limit, in the middle
        data = data[: len(data) // 2] + b"x" * (records.MAX_RECORD_BYTES + 5) + b"\n" + data
    assert records.count(io.BytesIO(data)) == len(list(records.records(io.BytesIO(data))))
