"""A trial pod serving ``/metrics`` for Prometheus to scrape: ``curve_trial.py --serve-port``.

On a cluster every trial pod would listen on the same container port, each at its own pod IP;
kubesim's pods are processes on one host, so trial N listens on the Nth port of ``--ports``
(which the test registered as scrape targets beforehand)."""

from __future__ import annotations

import os
import sys
from pathlib import Path

CURVE_TRIAL = Path(__file__).resolve().parents[1] / "local" / "curve_trial.py"


def main() -> None:
    (option,) = [arg for arg in sys.argv[1:] if arg.startswith("--ports=")]
    rest = [arg for arg in sys.argv[1:] if arg != option]
    ports = option.removeprefix("--ports=").split(",")
    port = ports[int(os.environ["KUBETUNE_TRIAL_NUMBER"])]
    argv = [sys.executable, str(CURVE_TRIAL), f"--serve-port={port}", *rest]
    os.execv(sys.executable, argv)  # the pod's process itself, as kubesim started it


if __name__ == "__main__":
    main()
