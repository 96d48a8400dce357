"""`manage.py check --deploy` with production settings has nothing to say."""

import os
import subprocess
import sys
from pathlib import Path

from cryptography.fernet import Fernet

ROOT = Path(__file__).resolve().parents[2]


def run_check(**overrides):
    # DJANGO_ALLOW_ASYNC_UNSAFE is set by the browser fixture when a browser test ran first
    # in this process; a deployment never has it (async.E001).
    unset = ("DEBUG", "DJANGO_SETTINGS_MODULE", "DJANGO_ALLOW_ASYNC_UNSAFE")
    env = {k: v for k, v in os.environ.items() if k not in unset}
    env.update(
        {
            "DJANGO_SETTINGS_MODULE": "portal.settings",
            "SECRET_KEY": "x7!production-like-secret-key-with-enough-entropy-3f9a8c1d2e",
            "ALLOWED_HOSTS": "portal.example.com",
            "DATABASE_URL": "sqlite:///:memory:",
            "PORTAL_ENCRYPTION_KEY": Fernet.generate_key().decode(),
            **overrides,
        }
    )
    return subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_production_settings_pass_the_deploy_check_without_warnings():
    result = run_check()
    assert result.returncode == 0, result.stdout + result.stderr
    assert (
        "System check identified no issues (1 silenced)."
    )  # security.W002, see settings in result.stdout


def test_a_missing_encryption_key_is_flagged():
    result = run_check(PORTAL_ENCRYPTION_KEY="")
    assert result.returncode != 0
    assert "subscriptions.W001" in result.stdout + result.stderr


def test_debug_in_production_is_flagged():
    result = run_check(DEBUG="1")
    assert "security.W018" in result.stdout + result.stderr
