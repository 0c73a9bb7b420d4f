"""A smoke-sized run of ``bench/faults.py``'s API server restart, so the benchmark does not rot:
one TuningJob while the emulator's API server restarts from its state directory."""

from __future__ import annotations

from pathlib import Path

from bench import faults


def test_one_run_through_api_server_restarts(tmp_path: Path) -> None:
    [run] = faults.run_kind("api-restart", 1, tmp_path)
    assert run.finished
    assert run.faults >= 1  # the schedule restarted the API server at least once
    assert (run.lost, run.duplicated, run.failed) == (0, 0, 0)
    assert "| api-restart | 1 | 1 | 0 | 0 | 0 |" in faults.table({"api-restart": [run]})
