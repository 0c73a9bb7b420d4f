"""``kubetune run`` reusing earlier runs: initial trials first, a warm start from a run under
the same --output-dir, and a missing parent refused with exit code 2."""

from __future__ import annotations

from pathlib import Path

import optuna
import yaml
from click.testing import CliRunner
from kubetune.cli.main import cli
from kubetune.search.storage import open_storage

from .conftest import manifest


def write(tmp_path: Path, name: str, **spec: object) -> Path:
    document = manifest(name, max_trials=4, parallel=1, algorithm="bayesian")
    document["spec"].update(spec)
    path = tmp_path / f"{name}.yaml"
    path.write_text(yaml.safe_dump(document))
    return path


def run(path: Path, output: Path) -> tuple[int, str]:
    result = CliRunner().invoke(cli, ["run", str(path), "--output-dir", str(output)])
    return result.exit_code, result.output


def test_warm_start_from_an_earlier_run(tmp_path: Path) -> None:
    runs = tmp_path / "runs"
    parent = write(tmp_path, "first", initialTrials=[{"x": 0.9}, {"x": 0.1}])
    code, output = run(parent, runs)
    assert code == 0, output
    first = optuna.load_study(
        study_name="first", storage=open_storage(runs / "first/study.journal")
    )
    assert [t.params["x"] for t in first.trials[:2]] == [0.9, 0.1]  # the initial trials, in order

    warm_start = {"type": "identicalDataAndAlgorithm", "parents": [{"name": "first"}]}
    code, output = run(write(tmp_path, "second", warmStart=warm_start), runs)

    assert code == 0, output
    assert "Warm start: 4 trials of parent runs seeded the study (4 from first)" in output
    assert "4 trials (4 succeeded" in output  # its own, numbered from 0


def test_a_missing_parent_exits_2(tmp_path: Path) -> None:
    warm_start = {"type": "transferLearning", "parents": [{"name": "nowhere"}]}

    code, output = run(write(tmp_path, "orphan", warmStart=warm_start), tmp_path / "runs")

    assert code == 2
    assert "spec.warmStart.parents[0]: no run 'nowhere'" in output
