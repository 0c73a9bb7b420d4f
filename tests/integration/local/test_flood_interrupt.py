"""Ctrl-C stops `kubetune run` at once, whatever its trials print: a tqdm bar redrawn as fast
as Python can, a line ended every 10 redraws (each a report: the bar's last redraw), with early
stopping on (so every value is judged)."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

import yaml

from tests.kubesim.harness import wait_until

from .runs import KUBETUNE

FLOOD = (
    "import sys\n"
    "i = 0\n"
    "while True:\n"
    "    i += 1\n"
    "    sys.stdout.write(f'\\rstep={i} loss={1 + 1 / i:.6f}' + ('\\n' if i % 10 == 0 else ''))\n"
)


def test_ctrl_c_stops_a_run_whose_trials_flood_their_output(tmp_path: Path) -> None:
    manifest = {
        "apiVersion": "kubetune.io/v1alpha1",
        "kind": "TuningJob",
        "metadata": {"name": "flood"},
        "spec": {
            "objective": {"metric": "loss", "direction": "minimize"},
            "parameters": [{"name": "x", "type": "float", "min": 0.0, "max": 1.0}],
            "strategy": {"algorithm": "random", "seed": 1},
            "earlyStopping": {"algorithm": "median", "minTrials": 1000},
            "limits": {"maxTrials": 2, "parallelTrials": 2},
            "trialTemplate": {
                "spec": {
                    "template": {
                        "spec": {
                            "containers": [
                                {"name": "t", "image": "x", "command": ["python", "-c", FLOOD]}
                            ]
                        }
                    }
                }
            },
        },
    }
    path = tmp_path / "flood.yaml"
    path.write_text(yaml.safe_dump(manifest))
    process = subprocess.Popen(
        [*KUBETUNE, "run", str(path)],
        cwd=tmp_path,
        env=dict(os.environ),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    runs = tmp_path / "kubetune-runs"

    def flooding() -> bool:  # a trial log past 4 MiB: the flood is on
        return any(p.stat().st_size > 4 << 20 for p in runs.rglob("*.log"))

    wait_until(flooding, timeout=60, interval=0.1, message="a trial flooding its log")
    assert process.poll() is None
    pressed = time.monotonic()
    process.send_signal(signal.SIGINT)
    _, err = process.communicate(timeout=60)
    took = time.monotonic() - pressed
    assert process.returncode == 130, err
    assert took < 10.0, f"Ctrl-C took {took:.1f}s"  # it took 50 s and more before
    journal = tmp_path / "kubetune-runs" / "flood" / "study.journal"
    assert journal.stat().st_size < 2 * 1024 * 1024  # intermediate values stayed bounded
