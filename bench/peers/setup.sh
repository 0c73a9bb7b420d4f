#!/usr/bin/env bash
# Builds the peer optimizers' benchmark virtualenvs OUTSIDE the repository (never the test
# path): Ax and HEBO both pull PyTorch, and HEBO pins an old NumPy, so each gets its own venv.
#   bash bench/peers/setup.sh [ROOT]      # default ROOT: /work/benchvenv
# PyTorch goes in first as torch==2.13.0: on this machine that is a local CPU wheel; an
# unpinned torch (asked for directly or by a peer) would download a CUDA build of several GB.
set -euo pipefail
root=${1:-/work/benchvenv}
here=$(cd "$(dirname "$0")" && pwd)
python=${PYTHON:-python3}
for peer in ax hebo; do
  venv="$root/$peer"
  [ -x "$venv/bin/python" ] || "$python" -m venv "$venv"
  "$venv/bin/pip" install -q --upgrade pip
  "$venv/bin/pip" install -q torch==2.13.0
  "$venv/bin/pip" install -q -r "$here/../requirements-peers-$peer.txt"
  "$venv/bin/python" -c "import torch; print('$peer venv ok, torch', torch.__version__)"
done
