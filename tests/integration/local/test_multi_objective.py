"""`kubetune run` of a multi-objective TuningJob: the final table marks the Pareto front."""

from __future__ import annotations

import re
from pathlib import Path

import yaml
from kubetune.search.pareto import non_dominated
from optuna.trial import TrialState

from .conftest import manifest
from .runs import journal_of, kubetune, load_study

OBJECTIVES = [
    {"metric": "loss", "direction": "minimize"},
    {"metric": "x_seen", "direction": "minimize"},  # trial.py prints its x: a cost to keep low
]


def write(tmp_path: Path, objectives: list[dict[str, str]], max_trials: int = 8) -> Path:
    document = manifest("local-test", max_trials=max_trials)
    del document["spec"]["objective"]
    document["spec"]["objectives"] = objectives
    path = tmp_path / "multi.yaml"
    path.write_text(yaml.safe_dump(document))
    return path


def test_run_marks_the_pareto_front(tmp_path: Path) -> None:
    result = kubetune("run", str(write(tmp_path, OBJECTIVES)), cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    out = result.stdout
    assert "minimize loss, minimize x_seen" in out
    assert "Complete: MaxTrialsReached" in out

    study = load_study(journal_of(tmp_path))
    assert study is not None
    done = [t for t in study.get_trials() if t.state is TrialState.COMPLETE]
    assert len(done) == 8
    points = [tuple(t.values) for t in done]
    front = sorted(done[i].number for i in non_dominated(points))
    assert 0 < len(front) < 8  # the trade-off: x below 0.3 lowers both, above it only x_seen
    marked = sorted(int(n) for n in re.findall(r"^│ \*(\d+) ", out, re.MULTILINE))
    assert marked == front
    assert "* on the Pareto front" in out
    assert f"Pareto front: {len(front)} trial" in out
    assert ", ".join(map(str, front)) in out

    report = kubetune("report", str(tmp_path / "multi.yaml"), cwd=tmp_path)
    assert report.returncode == 0, report.stderr
    assert f"Pareto front: {len(front)} trial" in report.stdout


def test_a_trial_missing_an_objective_fails_with_metrics_unavailable(tmp_path: Path) -> None:
    objectives = [OBJECTIVES[0], {"metric": "latency-ms", "direction": "minimize"}]
    path = write(tmp_path, objectives, max_trials=2)
    result = kubetune("run", str(path), cwd=tmp_path)
    assert result.returncode == 1, result.stdout + result.stderr
    flat = " ".join(result.stdout.split())  # rich wraps long lines at spaces
    assert "MetricsUnavailable: the trial never reported metric 'latency-ms'" in flat
    assert "No trial succeeded." in flat
    study = load_study(journal_of(tmp_path))
    assert study is not None
    reasons = [t.user_attrs.get("kubetune.reason") for t in study.get_trials()]
    assert reasons == ["MetricsUnavailable", "MetricsUnavailable"]


def test_clone_refines_around_the_front_and_runs_warm_started(tmp_path: Path) -> None:
    source = write(tmp_path, OBJECTIVES)
    assert kubetune("run", str(source), cwd=tmp_path).returncode == 0
    study = load_study(journal_of(tmp_path))
    assert study is not None
    done = [t for t in study.get_trials() if t.state is TrialState.COMPLETE]
    front = [done[i] for i in non_dominated([tuple(t.values) for t in done])]

    result = kubetune("clone", str(source), "--refine", "--top", "3", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "Pareto front" in result.stdout  # the header says what it narrowed around
    clone = yaml.safe_load(result.stdout)
    assert clone["metadata"]["name"] == "local-test-r1"
    assert clone["spec"]["objectives"] == OBJECTIVES
    assert clone["spec"]["warmStart"]["parents"] == [{"name": "local-test"}]
    [x] = clone["spec"]["parameters"]
    # The front's extremes in x are those of its objectives (x_seen is x), which the crowding
    # selection of the top 3 always keeps: the refined range holds the whole front.
    xs = [t.params["x"] for t in front]
    assert x["min"] <= min(xs)
    assert max(xs) <= x["max"]
    assert x["max"] - x["min"] < 1.0

    path = tmp_path / "clone.yaml"
    clone["spec"]["limits"]["maxTrials"] = 2
    path.write_text(yaml.safe_dump(clone))
    rerun = kubetune("run", str(path), cwd=tmp_path)
    assert rerun.returncode == 0, rerun.stdout + rerun.stderr
    assert "Warm start: 8 trials of parent runs seeded the study" in " ".join(rerun.stdout.split())
