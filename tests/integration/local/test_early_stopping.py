"""Early stopping with ``kubetune run``: real trial processes print a learning curve step by
step; the median rule stops the clearly bad ones while they run."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import yaml
from kubetune.api import load_tuningjobs
from kubetune.api.status import TrialReason
from kubetune.runtime.runner import RunPaths, run_local
from kubetune.trials import TrialState

from tests.integration.local.curves import curve_tuningjob

STEPS = 10


def curve_manifest(name: str, early: dict[str, Any], max_trials: int = 6) -> dict[str, Any]:
    # x is the asymptote; the seeded grid runs them as 0.3, 0.2, 5.0, 0.1, 0.4, 6.0
    return curve_tuningjob(
        name,
        [0.1, 0.2, 0.3, 0.4, 5.0, 6.0],
        [f"--steps={STEPS}", "--seconds-per-step=0.1"],
        max_trials=max_trials,
        spec={"earlyStopping": early},
    )


def test_median_rule_stops_bad_trials_while_they_run(tmp_path: Path) -> None:
    path = tmp_path / "curve.yaml"
    early = {"algorithm": "median", "minTrials": 2, "startStep": 1}
    path.write_text(yaml.safe_dump(curve_manifest("curve", early)))
    (job,) = load_tuningjobs(path)
    report = run_local(job, base_dir=tmp_path, paths=RunPaths.for_job(job, tmp_path / "runs", None))

    by_x = {float(t.params["x"]): t for t in report.trials}
    assert report.completion is not None
    assert report.completion.type.value == "Complete"
    assert len(report.trials) == 6
    for x in (5.0, 6.0):  # asymptotes far worse than the median of the earlier trials
        bad = by_x[x]
        assert bad.state is TrialState.PRUNED
        assert bad.reason == TrialReason.PRUNED
        last = max(bad.intermediate)
        assert 1 <= last < STEPS - 1  # stopped after startStep, well before the end
        assert bad.objective == bad.intermediate[last]
        assert bad.objective > x
        log = report.paths.logs / f"curve-{bad.number}.log"
        assert log.read_text().count("loss=") < STEPS  # its process was killed early
    # 0.4 is worse than the median of 0.3, 0.2 and 0.1 before it: the rule may stop it too
    good = [by_x[0.3], by_x[0.2], by_x[0.1]]
    assert all(t.state is TrialState.COMPLETE for t in good)
    assert all(sorted(t.intermediate) == list(range(STEPS)) for t in good), [
        t.intermediate for t in good
    ]


def test_kubetune_run_shows_pruned_trials(tmp_path: Path) -> None:
    path = tmp_path / "curve.yaml"
    early = {"algorithm": "percentile", "percentile": 50.0, "minTrials": 2, "startStep": 1}
    path.write_text(yaml.safe_dump(curve_manifest("shown", early, max_trials=3)))
    result = subprocess.run(
        [sys.executable, "-m", "kubetune.cli", "run", str(path), "--output-dir", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env={"COLUMNS": "200", "PATH": "/usr/bin:/bin"},
    )
    assert result.returncode == 0, result.stdout + result.stderr
    rows = [line for line in result.stdout.splitlines() if "Pruned" in line]
    assert rows, result.stdout
    assert len(rows) == 2  # the live line and the table
    live, row = rows
    assert "x=5 " in live  # x = 5.0 is the one stopped
    assert "stopped early by earlyStopping percentile" in live
    _, state, loss, x, reason = (cell.strip() for cell in row.split("│")[1:-1])
    assert (state, x, reason) == ("Pruned", "5", "Pruned")
    assert float(loss) > 5.0
