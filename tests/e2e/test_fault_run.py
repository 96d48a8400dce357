"""The end-to-end fault run (bench/e2e) as a CI test: the real stack on a private
PostgreSQL cluster under load and faults must lose nothing. It takes four to five minutes
on two cores (the providers are each down for a minute, overlapping), and runs in the
PostgreSQL pass only."""

import glob
import io

import pytest

from bench.e2e.run import Config, print_report, run
from tests.conftest import requirement_missing

pytestmark = [pytest.mark.postgres, pytest.mark.slow]


def test_fault_run_loses_nothing(tmp_path):
    # The run starts its own cluster (it restarts it as a fault); it needs the server
    # binaries, not the shared server the rest of the suite uses.
    if not glob.glob("/usr/lib/postgresql/*/bin/initdb"):
        requirement_missing("PostgreSQL server binaries (apt-get install postgresql)")
    report = run(Config(log_dir=str(tmp_path)))
    printed = io.StringIO()
    print_report(report, printed)
    print(printed.getvalue())  # the counts, for the CI log (pytest -rP) and the issue note
    assert report.passed, printed.getvalue()
    assert report.lost == 0
    faults = report.counts["faults injected"]
    # The faults really happened, or the pass would mean nothing.
    assert faults["provider outages"] == 3 and faults["database restarts"] == 1
    assert faults["workers SIGKILLed"] == 1 and faults["concurrent toggles"] == 100
    assert all(n > 0 for n in faults["provider fault answers"].values()), faults
    assert faults["numbers with postbacks out of order"] > 0
    assert report.counts["acknowledged opt-outs"] > 0
