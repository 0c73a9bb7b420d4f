"""Reusing earlier searches on the emulated cluster: initial trials run first (once, through a
restart), and a second TuningJob warm-starts from the first one's study journal."""

from __future__ import annotations

from typing import Any

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
