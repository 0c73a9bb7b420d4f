"""The four diagnosis verdicts, each shown by a real local run of a trainer built for it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from .support import manifest

CASES = {
    "bias": "highBias",
    "variance": "highVariance",
    "both": "both",
    "mismatch": "trainTestMismatch",
}
DIAGNOSIS = {"trainMetric": "train-rmse", "testMetric": "test-rmse", "baseline": 0.1}


def kubetune(*args: str, cwd: Path) -> str:
    result = subprocess.run(
        [sys.executable, "-m", "kubetune.cli", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, f"kubetune {args}:\n{result.stdout}\n{result.stderr}"
    return result.stdout


@pytest.mark.parametrize("case", sorted(CASES))
def test_each_trainer_gets_its_verdict(case: str, tmp_path: Path) -> None:
    document = manifest(f"diagnose-{case}", case, max_trials=4, spec={"diagnosis": DIAGNOSIS})
    (tmp_path / "job.yaml").write_text(yaml.safe_dump(document))
    kubetune("run", "job.yaml", cwd=tmp_path)
    shown = kubetune("report", "job.yaml", "--html", "page.html", cwd=tmp_path)
    flat = " ".join(shown.split())
    assert f": {CASES[case]} " in flat, shown
    assert "(baseline 0.1)" in flat
    assert "Diagnosis (best trial" in flat
    page = (tmp_path / "page.html").read_text()
    assert f"<b>{CASES[case]}</b>" in page


def test_thresholds_on_the_command_line_override_the_spec(tmp_path: Path) -> None:
    document = manifest("diagnose-loose", "bias", max_trials=3, spec={"diagnosis": DIAGNOSIS})
    (tmp_path / "job.yaml").write_text(yaml.safe_dump(document))
    kubetune("run", "job.yaml", cwd=tmp_path)
    shown = " ".join(kubetune("report", "job.yaml", "--threshold", "bias=5", cwd=tmp_path).split())
    assert ": ok " in shown


def test_the_gap_is_explained_by_the_parameters_that_move_it(tmp_path: Path) -> None:
    document = manifest("diagnose-gap", "variance", max_trials=8, spec={"diagnosis": DIAGNOSIS})
    (tmp_path / "job.yaml").write_text(yaml.safe_dump(document))
    kubetune("run", "job.yaml", cwd=tmp_path)
    shown = " ".join(kubetune("report", "job.yaml", cwd=tmp_path).split())
    assert "the train/validation gap moved most with: " in shown
