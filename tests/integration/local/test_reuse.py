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


def test_clone_of_a_local_run_plain_and_refined(tmp_path: Path) -> None:
    runs = tmp_path / "runs"
    source = write(tmp_path, "base", initialTrials=[{"x": 0.3}])
    assert run(source, runs)[0] == 0
    runner = CliRunner()

    plain = runner.invoke(cli, ["clone", str(runs / "base")])
    refined_file = tmp_path / "base-r1.yaml"
    refined = runner.invoke(
        cli, ["clone", str(source), "--output-dir", str(runs), "--refine", "-o", str(refined_file)]
    )

    assert plain.exit_code == 0, plain.output
    copy = yaml.safe_load(plain.output)
    original = yaml.safe_load(source.read_text())
    assert copy["metadata"] == {"name": "base-r1"}
    assert copy["spec"]["parameters"] == original["spec"]["parameters"]
    assert copy["spec"]["initialTrials"] == [{"x": 0.3}]
    assert "warmStart" not in copy["spec"]
    assert refined.exit_code == 0, refined.output
    document = yaml.safe_load(refined_file.read_text())
    assert document["spec"]["warmStart"]["parents"] == [{"name": "base"}]
    assert "initialTrials" not in document["spec"]  # known through the warm start already
    # The refined clone runs, warm-started from its source, and clones on to -r2.
    code, output = run(refined_file, runs)
    assert code == 0, output
    again = runner.invoke(cli, ["clone", str(runs / "base-r1"), "--refine"])
    assert yaml.safe_load(again.output)["spec"]["warmStart"]["parents"] == [
        {"name": "base-r1"},
        {"name": "base"},
    ]
