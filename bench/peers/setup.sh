#!/usr/bin/env bash
# Builds the peer optimizers' benchmark virtualenvs, never on the test path (gitignored
# .cache/ by default): Ax and HEBO both pull PyTorch, and HEBO pins an old NumPy, so each gets its own venv.
#   bash bench/peers/setup.sh [ROOT]      # default ROOT: <repository>/.cache/bench-peers
# PyTorch goes in first as torch==2.13.0: on this machine that is a local CPU wheel; an
# unpinned torch (asked for directly or by a peer) would download a CUDA build of several GB.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=${1:-$here/../../.cache/bench-peers}
python=${PYTHON:-python3}
for peer in ax hebo; do
  venv="$root/$peer"
  [ -x "$venv/bin/python" ] || "$python" -m venv "$venv"
  "$venv/bin/pip" install -q --upgrade pip
  "$venv/bin/pip" install -q torch==2.13.0
  "$venv/bin/pip" install -q -r "$here/../requirements-peers-$peer.txt"
  "$venv/bin/python" -c "import torch; print('$peer venv ok, torch', torch.__version__)"
done
