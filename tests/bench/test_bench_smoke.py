"""The issue "Provider truth" benches at a tiny size, as a CI smoke test: they run end to
end (real servers, PostgreSQL, worker processes) and their own checks pass. The real-size
numbers come from running them by hand (bench/README.md)."""

import subprocess
import sys
from pathlib import Path

import pytest
from django.db import connection

pytestmark = [pytest.mark.postgres, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]
SMOKE = {
    "bench_reconcile.py": ["--numbers", "1200", "--drift", "5", "--delay", "0.01"],
    "bench_queues.py": [
        "--syncs",
        "300",
        "--samples",
        "3",
        "--every",
        "0.1",
        "--delay",
        "0.005",
        "--sync-workers",
        "1",
        "--max-drain-seconds",
        "120",
    ],
}


@pytest.mark.parametrize("bench", sorted(SMOKE))
def test_bench_runs_at_a_tiny_size(bench):
    settings = connection.settings_dict
    server = f"postgres://{settings['USER']}@{settings['HOST']}:{settings['PORT'] or 5432}"
    database = f"{settings['NAME']}_smoke_{bench.removesuffix('.py')}"
    result = subprocess.run(
        [
            sys.executable,
            str(ROOT / "bench" / bench),
            *SMOKE[bench],
            "--database-url",
            f"{server}/{database}",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "RESULT:" in result.stdout and ": ok" in result.stdout
