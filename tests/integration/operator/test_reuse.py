"""Reusing earlier searches on the emulated cluster: initial trials run first (once, through a
restart), and a second TuningJob warm-starts from the first one's study journal."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import yaml

from .harness import Cluster, OperatorProcess, eventually, tuningjob

INITIAL = [{"x": 0.3, "layers": 1}, {"x": 0.9, "layers": 4}, {"x": 0.05, "layers": 2}]


def trial_params(cluster: Cluster, name: str) -> dict[int, dict[str, Any]]:
    """Each trial Job's parameters, by trial number (from its KUBETUNE_PARAMS)."""
    import json

    params = {}
    for job in cluster.jobs(name):
        container = job["spec"]["template"]["spec"]["containers"][0]
        env = {item["name"]: item.get("value") for item in container.get("env", [])}
        params[int(job["metadata"]["labels"]["kubetune.io/trial"])] = json.loads(
            env["KUBETUNE_PARAMS"]
        )
    return params


def test_initial_trials_run_first_once_through_a_restart(
    cluster: Cluster, operator: OperatorProcess
) -> None:
    manifest = tuningjob(
        "seeded", mode="slow", max_trials=4, parallel=1, spec={"initialTrials": INITIAL}
    )
    cluster.apply(manifest)
    eventually(lambda: len(cluster.jobs("seeded")) >= 2, message="two trial Jobs")
    operator.kill()  # the study is rebuilt from its journal: nothing may be enqueued again
    operator.start()

    cluster.wait_condition("seeded", "Complete")

    params = trial_params(cluster, "seeded")
    assert sorted(params) == [0, 1, 2, 3]
    assert [params[n] for n in range(3)] == INITIAL
    assert params[3] not in INITIAL
    status = cluster.tuningjob("seeded")["status"]
    assert status["trials"]["total"] == 4
    assert "warmStartTrials" not in status


def test_warm_start_from_another_tuningjob(cluster: Cluster, operator: OperatorProcess) -> None:
    cluster.apply(tuningjob("parent-v1", max_trials=5, parallel=2))
    cluster.wait_condition("parent-v1", "Complete")
    parent_best = cluster.tuningjob("parent-v1")["status"]["bestTrial"]["objective"]
    warm_start = {"type": "identicalDataAndAlgorithm", "parents": [{"name": "parent-v1"}]}
    child = tuningjob("child-v2", max_trials=3, parallel=1, spec={"warmStart": warm_start})
    child["spec"]["strategy"] = {"algorithm": "gp", "seed": 3}
    child["spec"]["parameters"][0]["max"] = 0.6  # a refined range

    cluster.apply(child)
    cluster.wait_condition("child-v2", "Complete")

    status = cluster.tuningjob("child-v2")["status"]
    assert status["warmStartTrials"] == 5
    assert status["trials"]["total"] == 3  # the parents' trials are not this job's
    assert sorted(trial_params(cluster, "child-v2")) == [0, 1, 2]
    best = status["bestTrial"]
    assert best["name"] == f"child-v2-{best['number']}"
    assert 0 <= best["parameters"]["x"] <= 0.6
    # Informed from its first suggestion: the GP starts from the parent's five results, so
    # the child's first trial is already near the parent's best region rather than random.
    assert best["objective"] <= parent_best + 0.1


def test_a_missing_parent_is_an_invalid_spec(cluster: Cluster, operator: OperatorProcess) -> None:
    warm_start = {"type": "transferLearning", "parents": [{"name": "never-was"}]}
    cluster.apply(tuningjob("orphan", spec={"warmStart": warm_start}))

    failed = cluster.wait_condition("orphan", "Failed")

    assert failed["reason"] == "InvalidSpec"
    assert "spec.warmStart.parents[0]: no TuningJob default/never-was" in failed["message"]
    assert cluster.jobs("orphan") == []


def test_clone_refine_of_a_cluster_tuningjob_applies_and_warm_starts(
    cluster: Cluster, operator: OperatorProcess, tmp_path: Path
) -> None:
    cluster.apply(tuningjob("source-v1", max_trials=6, parallel=2))
    cluster.wait_condition("source-v1", "Complete")
    output = tmp_path / "refined.yaml"

    cloned = subprocess.run(
        [sys.executable, "-m", "kubetune.cli", "clone", "tuningjob/source-v1", "--refine",
         "--top", "3", "--kubeconfig", str(cluster.sim.kubeconfig), "-o", str(output)],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip

    assert cloned.returncode == 0, cloned.stderr
    text = output.read_text()
    assert "# x: 0..1 -> " in text  # every parameter says why it is what it is
    assert "# layers: " in text
    manifest = yaml.safe_load(text)
    assert manifest["metadata"] == {"name": "source-v1-r1", "namespace": "default"}
    assert manifest["spec"]["warmStart"] == {
        "type": "identicalDataAndAlgorithm",
        "parents": [{"name": "source-v1", "namespace": "default"}],
    }
    x = manifest["spec"]["parameters"][0]
    assert 0.0 <= x["min"] < x["max"] <= 1.0
    assert (x["min"], x["max"]) != (0.0, 1.0)

    cluster.kubectl("apply", "-f", str(output))  # what it writes, kubectl applies as it is
    cluster.wait_condition("source-v1-r1", "Complete")

    status = cluster.tuningjob("source-v1-r1")["status"]
    assert status["warmStartTrials"] == 6
    assert x["min"] <= status["bestTrial"]["parameters"]["x"] <= x["max"]


def test_a_constrained_run_whose_best_is_feasible(
    cluster: Cluster, operator: OperatorProcess
) -> None:
    # Trial 0 has the lowest loss (0.01, accuracy 0.99) but breaks the bound: infeasible.
    first = [{"x": 0.3, "layers": 1}, {"x": 0.6, "layers": 2}, {"x": 0.05, "layers": 1}]
    manifest = tuningjob(
        "bounded",
        max_trials=4,
        parallel=1,
        spec={"initialTrials": first, "constraints": [{"metric": "accuracy", "max": 0.95}]},
    )
    cluster.apply(manifest)

    cluster.wait_condition("bounded", "Complete")

    status = cluster.tuningjob("bounded")["status"]
    assert status["trials"]["succeeded"] == 4  # the infeasible trial is recorded, not failed
    best = status["bestTrial"]
    assert best["number"] != 0
    assert best["metrics"]["accuracy"] <= 0.95
    # trial.py: loss = (x - 0.3)^2 + 0.01 layers, accuracy = 1 - loss (printed to 6 places).
    accuracy = {
        n: float(f"{1 - ((p['x'] - 0.3) ** 2 + 0.01 * p['layers']):.6f}")
        for n, p in trial_params(cluster, "bounded").items()
    }
    infeasible = [n for n, value in accuracy.items() if value > 0.95]
    assert 0 in infeasible
    assert status["trials"]["infeasible"] == len(infeasible)
    missing = tuningjob(
        "unmeasured", max_trials=1, spec={"constraints": [{"metric": "gpu-memory-gb", "max": 1}]}
    )
    missing["spec"]["limits"]["maxFailedTrials"] = 0
    cluster.apply(missing)
    failed = cluster.wait_condition("unmeasured", "Failed")
    assert failed["reason"] == "MaxFailedTrialsExceeded"
