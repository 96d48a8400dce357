#!/usr/bin/env bash
# Make the project's environment: Python 3.13, uv, and the locked packages in .venv.
# Sourced or run by the Makefile and .ci/run; safe to run again.
set -euo pipefail
cd "$(dirname "$0")/.."
export UV_PYTHON_DOWNLOADS=never

find_python() {
    for candidate in python3.13 "$HOME/.pyenv/versions/3.13"*/bin/python3.13 /usr/local/bin/python3.13 /usr/bin/python3.13; do
        # The interpreter's own path, not a pyenv shim: uv recreates .venv (under any
        # running process) whenever the path it is given differs from the one it recorded.
        if command -v "$candidate" >/dev/null 2>&1 && "$candidate" -c 'import sys; assert sys.version_info[:2] == (3, 13); print(sys.executable)' 2>/dev/null; then
            return 0
        fi
    done
    if command -v pyenv >/dev/null 2>&1 && pyenv prefix 3.13 >/dev/null 2>&1; then
        echo "$(pyenv prefix 3.13)/bin/python3.13"
        return 0
    fi
    return 1
}

if ! PYTHON=$(find_python) && command -v pyenv >/dev/null 2>&1; then
    echo "== no Python 3.13 found: trying 'pyenv install 3.13'" >&2
    pyenv install --skip-existing 3.13 >&2 || true
fi
PYTHON=$(find_python) || {
    echo "Python 3.13 is required (pyenv provides it on these machines: 'pyenv install 3.13')." >&2
    exit 1
}
if ! "$PYTHON" -m uv --version >/dev/null 2>&1; then
    echo "== installing uv into $PYTHON" >&2
    "$PYTHON" -m pip install --quiet --disable-pip-version-check uv >&2
fi
"$PYTHON" -m uv sync --locked --python "$PYTHON" >&2
echo "$PYTHON"
