"""A multi-objective TuningJob on the emulated cluster: status.paretoFront is the front of the
trials that ran, bounded by crowding distance, and bestTrial is absent."""

from __future__ import annotations

import json

from kubetune.api import parse_tuningjob
from kubetune.api.status import MAX_PARETO_FRONT
from kubetune.search.pareto import listed_front, pareto_trials
from kubetune.trials import TrialRecord, TrialState

from .harness import Cluster, OperatorProcess, tuningjob

TRIALS = 24
# trial.py prints loss and accuracy = 1 - loss: minimizing both is a pure trade-off, so every
# trial is on the front and the status must choose MAX_PARETO_FRONT of them by crowding.
OBJECTIVES = [
    {"metric": "loss", "direction": "minimize"},
    {"metric": "accuracy", "direction": "minimize"},
]


def ran(cluster: Cluster, name: str) -> list[TrialRecord]:
    """The trials as their Jobs ran them: parameters from KUBETUNE_PARAMS, the values trial.py
    prints for them (6 decimals, as it prints them)."""
    trials = []
    for job in cluster.jobs(name):
        container = job["spec"]["template"]["spec"]["containers"][0]
        env = {item["name"]: item.get("value") for item in container.get("env", [])}
        params = json.loads(env["KUBETUNE_PARAMS"])
        loss = round((params["x"] - 0.3) ** 2 + 0.01 * params["layers"], 6)
        accuracy = round(1 - loss, 6)
        number = int(job["metadata"]["labels"]["kubetune.io/trial"])
        metrics = {"loss": loss, "accuracy": accuracy}
        trials.append(
            TrialRecord(
                number, TrialState.COMPLETE, params, metrics=metrics, values=(loss, accuracy)
            )
        )
    return sorted(trials, key=lambda t: t.number)


def test_status_lists_the_pareto_front(cluster: Cluster, operator: OperatorProcess) -> None:
    manifest = tuningjob("front", max_trials=TRIALS, parallel=4)
    spec = manifest["spec"]
    del spec["objective"]
    spec["objectives"] = OBJECTIVES
    spec["strategy"] = {"algorithm": "bayesian", "seed": 5}
    cluster.apply(manifest)
    cluster.wait_condition("front", "Complete", timeout=240)

    status = cluster.tuningjob("front")["status"]
    assert status["trials"]["succeeded"] == TRIALS, status["trials"]
    assert "bestTrial" not in status
    trials = ran(cluster, "front")
    model = parse_tuningjob(manifest).spec
    front = pareto_trials(model, trials)
    assert status["paretoFrontSize"] == len(front) == TRIALS
    expected = listed_front(model, front)
    assert len(expected) == MAX_PARETO_FRONT
    listed = status["paretoFront"]
    assert [t["number"] for t in listed] == [t.number for t in expected]
    for entry, trial in zip(listed, expected, strict=True):
        assert entry["name"] == f"front-{trial.number}"
        assert entry["parameters"] == trial.params
        assert entry["objectives"] == dict(trial.metrics)
    # The extremes of each objective are always listed.
    losses = [t["objectives"]["loss"] for t in listed]
    assert min(losses) == min(t.metrics["loss"] for t in trials)
    assert max(losses) == max(t.metrics["loss"] for t in trials)
    row = cluster.kubectl(
        "get", "tj", "front", "-o", "custom-columns=FRONT:.status.paretoFrontSize"
    )
    assert row.stdout.split()[-1] == str(TRIALS)
