import pytest
from django.core.management import CommandError, call_command

from subscriptions.models import ImportJob, Status, Subscription
from tests.factories import KeywordFactory, ShortCodeFactory
from tests.subscriptions.imports.helpers import csv_bytes

pytestmark = pytest.mark.django_db


@pytest.fixture
def join():
    return KeywordFactory(short_code=ShortCodeFactory(code="12345"), word="JOIN")


def test_command_imports_with_a_progress_bar(tmp_path, join, capsys):
    path = tmp_path / "list.csv"
    path.write_bytes(csv_bytes("+15555550001,12345,JOIN,Active,,", "bad,12345,JOIN,Active,,"))
    call_command("import_subscriptions", str(path))
    out = capsys.readouterr().out
    bar = out.split("\r")[-1]  # the last state of the tqdm bar: rows, elapsed, ETA, rate
    assert bar.startswith("100%|") and "| 2/2 rows [" in bar and " rows/s]" in bar
    assert "2 rows, 1 applied, 0 refused, 0 unchanged, 1 rejected." in out
    assert Subscription.objects.get().status == Status.OPTED_IN
    job = ImportJob.objects.get()
    assert (job.file_name, job.status, job.errors) == ("list.csv", "done", 1)


def test_command_dry_run_writes_nothing(tmp_path, join, capsys):
    path = tmp_path / "list.csv"
    path.write_bytes(csv_bytes("+15555550001,12345,JOIN,Active,,"))
    call_command("import_subscriptions", str(path), "--dry-run")
    assert "(dry run): 1 rows, 1 would be applied" in capsys.readouterr().out
    assert not Subscription.objects.exists()


def test_command_reports_missing_file_and_bad_header(tmp_path, join):
    with pytest.raises(CommandError, match="No such file"):
        call_command("import_subscriptions", str(tmp_path / "nope.csv"))
    path = tmp_path / "bad.csv"
    path.write_bytes(b"number,code\n1,2\n")
    with pytest.raises(CommandError, match="Missing column"):
        call_command("import_subscriptions", str(path))
