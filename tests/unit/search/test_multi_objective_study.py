"""A multi-objective ``TuningStudy``: outcomes, records, samplers, status and completion."""

from __future__ import annotations

from typing import Any

import optuna
import pytest
from kubetune.api import TuningJob, parse_tuningjob
from kubetune.api.spec import WarmStartParent
from kubetune.api.status import Reason, TrialReason
from kubetune.controller.completion import best_trial, evaluate_completion
from kubetune.controller.outcome import succeeded_outcome
from kubetune.controller.status import tuningjob_status
from kubetune.metrics.logs import MetricSeries, Observation
from kubetune.search.parego import ParEgoSampler
from kubetune.search.study import SearchSpaceChanged, TuningStudy
from kubetune.search.warm_start import ParentStudy, read_parent
from kubetune.trials import TrialOutcome, TrialState

from tests.unit.manifests import REMOVE, manifest, tweak

PARAMETERS: list[dict[str, Any]] = [
    {"name": "x", "type": "float", "min": 0.0, "max": 1.0},
    {"name": "y", "type": "float", "min": 0.0, "max": 1.0},
]
OBJECTIVES = [
    {"metric": "loss", "direction": "minimize"},
    {"metric": "acc", "direction": "maximize"},
]


def multi_job(algorithm: str = "bayesian", extra: dict[str, Any] | None = None) -> TuningJob:
    document = manifest(name="mo", parameters=PARAMETERS, algorithm=algorithm)
    document = tweak(tweak(document, "spec.objective", REMOVE), "spec.objectives", OBJECTIVES)
    for path, value in (extra or {}).items():
        document = tweak(document, path, value)
    return parse_tuningjob(document)


def series(**values: float) -> MetricSeries:
    result = MetricSeries()
    for name, value in values.items():
        result.add(Observation(name, 1, value))
    return result


def test_a_trial_must_report_every_objective() -> None:
    spec = multi_job().spec
    outcome = succeeded_outcome(spec, series(loss=0.3))
    assert outcome.state is TrialState.FAILED
    assert outcome.reason == TrialReason.METRICS_UNAVAILABLE
    assert outcome.message == "the trial never reported metric 'acc'"
    assert succeeded_outcome(spec, series(loss=0.3, acc=0.9)) == TrialOutcome(
        TrialState.COMPLETE, metrics={"loss": 0.3, "acc": 0.9}, values=(0.3, 0.9)
    )


def test_the_study_has_one_direction_per_objective_and_records_values(
    storage: optuna.storages.BaseStorage,
) -> None:
    study = TuningStudy(multi_job(), storage)
    assert study.study.directions == [
        optuna.study.StudyDirection.MINIMIZE,
        optuna.study.StudyDirection.MAXIMIZE,
    ]
    assert isinstance(study.study.sampler, ParEgoSampler)  # the default: measured in bench/
    [trial] = study.ask(1)
    study.tell(trial.number, succeeded_outcome(study.job.spec, series(loss=0.3, acc=0.9)))
    [record] = study.records()
    assert (record.state, record.objective, record.values) == (
        TrialState.COMPLETE,
        None,
        (0.3, 0.9),
    )


def test_switching_to_one_objective_is_refused(storage: optuna.storages.BaseStorage) -> None:
    TuningStudy(multi_job(), storage)
    single = parse_tuningjob(manifest(name="mo", parameters=PARAMETERS))
    with pytest.raises(SearchSpaceChanged, match="between one and several objectives"):
        TuningStudy(single, storage)


@pytest.mark.parametrize("algorithm", ["bayesian", "gp", "random"])
def test_each_strategy_searches_with_constraints(
    storage: optuna.storages.BaseStorage, algorithm: str
) -> None:
    job = multi_job(algorithm, {"spec.constraints": [{"metric": "mem", "max": 1.0}]})
    study = TuningStudy(job, storage)
    for _ in range(14):
        [trial] = study.ask(1)
        x, y = float(trial.params["x"]), float(trial.params["y"])
        metrics = series(loss=x + y, acc=x * y, mem=2 * x)
        study.tell(trial.number, succeeded_outcome(job.spec, metrics))
    records = study.records()
    assert [r.state for r in records] == [TrialState.COMPLETE] * 14
    stored = list(study.study.trials[-1].system_attrs["constraints"])
    assert stored == [2 * float(records[-1].params["x"]) - 1.0]


def test_status_lists_the_front_and_no_best_trial(storage: optuna.storages.BaseStorage) -> None:
    job = multi_job(extra={"spec.limits.stopAfterTrialsWithoutImprovement": 2})
    study = TuningStudy(job, storage)
    results = [(0.5, 0.5), (0.2, 0.3), (0.6, 0.4), (0.1, 0.1), (0.7, 0.2), (0.8, 0.3)]
    for loss, acc in results:
        [trial] = study.ask(1)
        study.tell(trial.number, succeeded_outcome(job.spec, series(loss=loss, acc=acc)))
    trials = study.records()
    assert best_trial(job.spec, trials) is None
    status = tuningjob_status(job.spec, "mo", trials, None, 0.0, 1.0, 1)
    assert "bestTrial" not in status
    assert status["paretoFrontSize"] == 3
    assert status["paretoFront"] == [
        {"name": "mo-0", "number": 0, "objectives": {"loss": 0.5, "acc": 0.5},
         "parameters": dict(trials[0].params)},
        {"name": "mo-1", "number": 1, "objectives": {"loss": 0.2, "acc": 0.3},
         "parameters": dict(trials[1].params)},
        {"name": "mo-3", "number": 3, "objectives": {"loss": 0.1, "acc": 0.1},
         "parameters": dict(trials[3].params)},
    ]  # fmt: skip
    # stopAfterTrialsWithoutImprovement: trials since the last one to join the front.
    completion = evaluate_completion(job.spec, trials, 0.0, 1.0)
    assert completion is not None
    assert completion.reason is Reason.NO_IMPROVEMENT
    assert completion.message == (
        "2 trials since the last to join the Pareto front (trial 3) without improvement"
    )


def test_identical_warm_start_carries_every_objective(
    storage: optuna.storages.BaseStorage,
) -> None:
    parent = TuningStudy(multi_job(), storage)  # named "mo"
    for _ in range(4):
        [trial] = parent.ask(1)
        x = float(trial.params["x"])
        parent.tell(trial.number, succeeded_outcome(parent.job.spec, series(loss=x, acc=x / 2)))
    [last] = parent.ask(1)  # failed (it never reported acc): not loaded
    parent.tell(last.number, succeeded_outcome(parent.job.spec, series(loss=0.5)))

    def load(reference: WarmStartParent, metric: str) -> ParentStudy:
        return read_parent(storage, reference.name, reference.name, metric)

    warm = {"type": "identicalDataAndAlgorithm", "parents": [{"name": "mo"}]}
    child_doc = tweak(manifest(name="child", parameters=PARAMETERS), "spec.objective", REMOVE)
    child_doc = tweak(tweak(child_doc, "spec.objectives", OBJECTIVES), "spec.warmStart", warm)
    child = TuningStudy(parse_tuningjob(child_doc), storage, parents=load)
    assert child.warm_start_trials == 4
    seeded = child.study.get_trials()
    assert all(len(t.values) == 2 for t in seeded)
    assert [t.values[1] for t in seeded] == [t.values[0] / 2 for t in seeded]
    assert child.records() == []  # the parents' trials are not the child's
    assert len(child.ask(1)) == 1


def test_a_single_objective_child_reads_its_metric_of_a_multi_objective_parent(
    storage: optuna.storages.BaseStorage,
) -> None:
    parent = TuningStudy(multi_job(), storage)  # minimize loss, maximize acc
    for value in (0.2, 0.6, 0.4):
        [trial] = parent.ask(1)
        outcome = succeeded_outcome(parent.job.spec, series(loss=1 - value, acc=value))
        parent.tell(trial.number, outcome)
    study = read_parent(storage, "mo", "mo", "acc")
    assert study.direction == "maximize"
    assert [t.value for t in study.trials] == [0.2, 0.6, 0.4]


def test_initial_trials_come_first(storage: optuna.storages.BaseStorage) -> None:
    initial = [{"x": 0.25, "y": 0.75}, {"x": 0.5, "y": 0.5}]
    study = TuningStudy(multi_job(extra={"spec.initialTrials": initial}), storage)
    asked = study.ask(3)
    assert [dict(t.params) for t in asked[:2]] == initial
    assert dict(asked[2].params) not in initial
