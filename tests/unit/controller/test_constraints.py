"""``spec.constraints``: validated at load; an infeasible trial is recorded, never the best, and
modelled by the sampler (shown as the worst to one that cannot); a trial without a constrained
metric fails."""

from __future__ import annotations

from typing import Any

import optuna
import pytest
from kubetune.api import SpecError, parse_tuningjob
from kubetune.api.spec import Constraint, violations
from kubetune.api.status import TrialReason
from kubetune.controller.completion import best_trial, evaluate_completion
from kubetune.controller.outcome import succeeded_outcome
from kubetune.controller.status import count_trials
from kubetune.search.study import TuningStudy
from kubetune.search.views import CONSTRAINTS_KEY, ConstrainedSampler
from kubetune.trials import TrialOutcome, TrialRecord, TrialState

from tests.unit.controller.trials import series
from tests.unit.manifests import manifest

MEMORY = {"metric": "gpu-memory-gb", "max": 40}


def constrained(*constraints: dict[str, Any], **objective: Any) -> Any:
    document = manifest(objective=objective or None)
    document["spec"]["constraints"] = list(constraints)
    return parse_tuningjob(document)


def test_constraints_are_read_and_their_metrics_recorded() -> None:
    job = constrained(MEMORY, {"metric": "loss", "min": 0.01})
    assert job.spec.constraints == [
        Constraint(metric="gpu-memory-gb", max=40),
        Constraint(metric="loss", min=0.01),
    ]
    assert job.spec.recorded_metrics == ["loss", "gpu-memory-gb"]


@pytest.mark.parametrize(
    ("constraint", "error"),
    [
        ({"metric": "m"}, ": needs min, max or both"),
        ({"metric": "m", "min": 2, "max": 1}, ".max: must be at least min (1.0 < 2.0)"),
        ({"metric": "gpu-memory-gb", "min": 1}, ".metric: duplicate metric 'gpu-memory-gb'"),
        ({"metric": "m", "max": float("inf")}, ".max: must be finite (got inf)"),
    ],
)
def test_a_bad_constraint_names_the_field(constraint: dict[str, Any], error: str) -> None:
    with pytest.raises(SpecError) as caught:
        constrained(MEMORY, constraint)
    assert [str(e) for e in caught.value.errors] == [f"spec.constraints[1]{error}"]


def test_violations_follow_optunas_convention() -> None:
    bounds = [Constraint(metric="a", min=1, max=2), Constraint(metric="b", max=0)]
    assert violations(bounds, {"a": 1.5, "b": -1}) == [-0.5, -1]
    assert violations(bounds, {"a": 3, "b": 0.5}) == [1, 0.5]
    assert violations(bounds, {"a": 1}) == [0, float("inf")]


def test_a_trial_without_a_constrained_metric_fails_metrics_unavailable() -> None:
    spec = constrained(MEMORY).spec
    outcome = succeeded_outcome(spec, series(loss=[0.5]))
    assert outcome.state is TrialState.FAILED
    assert outcome.reason == TrialReason.METRICS_UNAVAILABLE
    assert outcome.message == "the trial never reported constrained metric 'gpu-memory-gb'"
    ok = succeeded_outcome(spec, series(loss=[0.5], **{"gpu-memory-gb": [50.0]}))
    assert ok.state is TrialState.COMPLETE
    assert ok.metrics == {"loss": 0.5, "gpu-memory-gb": 50.0}


def record(number: int, loss: float, memory: float) -> TrialRecord:
    metrics = {"loss": loss, "gpu-memory-gb": memory}
    return TrialRecord(number, TrialState.COMPLETE, {}, objective=loss, metrics=metrics)


def test_an_infeasible_trial_is_never_the_best_nor_reaches_the_target() -> None:
    spec = constrained(MEMORY, target=0.1).spec
    trials = [record(0, 0.05, 80.0), record(1, 0.3, 20.0), record(2, 0.2, 39.0)]

    best = best_trial(spec, trials)

    assert best is not None
    assert best.number == 2
    assert (
        evaluate_completion(spec, trials, 0.0, 1.0) is None
    )  # trial 0 is below target, infeasible
    assert best_trial(spec, trials[:1]) is None


def tell_three(study: TuningStudy) -> None:
    for memory, loss in ((80.0, 0.05), (20.0, 0.3), (30.0, 0.2)):
        (trial,) = study.ask(1)
        metrics = {"loss": loss, "gpu-memory-gb": memory}
        study.tell(trial.number, TrialOutcome(TrialState.COMPLETE, loss, metrics))


def test_the_sampler_reads_each_trials_constraint_values(
    storage: optuna.storages.BaseStorage,
) -> None:
    study = TuningStudy(constrained(MEMORY), storage)
    tell_three(study)

    stored = study.study.get_trials()
    assert [t.system_attrs[CONSTRAINTS_KEY] for t in stored] == [[40.0], [-20.0], [-10.0]]
    # What Optuna's samplers (TPE, NSGA-II, GPSampler) and kubetune's GP read.
    assert [t.constraints for t in stored] == [{"0": 40.0}, {"0": -20.0}, {"0": -10.0}]
    assert [t.value for t in stored] == [0.05, 0.3, 0.2]  # recorded as they were
    assert not isinstance(study.study.sampler, ConstrainedSampler)  # no penalty: it models them


def test_a_sampler_blind_to_constraints_sees_infeasible_trials_as_the_worst(
    storage: optuna.storages.BaseStorage,
) -> None:
    document = manifest(algorithm="cmaes")
    document["spec"]["constraints"] = [MEMORY]
    study = TuningStudy(parse_tuningjob(document), storage)
    tell_three(study)

    assert isinstance(study.study.sampler, ConstrainedSampler)
    seen = study.study.sampler._view(study.study)._get_trials()
    assert [t.value for t in seen] == [0.3, 0.3, 0.2]


def test_a_constrained_metric_needs_a_definition_or_a_query_where_metrics_do() -> None:
    document = manifest(
        metrics={"format": "regex", "definitions": [{"name": "loss", "regex": "loss=(.*)"}]}
    )
    document["spec"]["constraints"] = [MEMORY]
    with pytest.raises(SpecError) as caught:
        parse_tuningjob(document)
    assert [str(e) for e in caught.value.errors] == [
        "spec.metrics.definitions: format regex needs a definition for constrained metric "
        "'gpu-memory-gb'"
    ]


def test_status_counts_the_infeasible_trials_only_with_constraints() -> None:
    trials = [record(0, 0.05, 80.0), record(1, 0.3, 20.0), record(2, 0.2, 41.0)]
    spec = constrained(MEMORY).spec

    counts = count_trials(trials, constraints=spec.constraints)

    assert (counts.succeeded, counts.infeasible) == (3, 2)
    assert counts.to_dict()["infeasible"] == 2
    assert "infeasible" not in count_trials(trials).to_dict()  # unconstrained: no such counter


def test_the_html_report_counts_and_marks_infeasible_trials() -> None:
    from kubetune.report.html import _counts

    trials = [record(0, 0.05, 80.0), record(1, 0.3, 20.0)]
    counted = _counts(trials, constrained(MEMORY).spec.constraints)
    assert counted == "2 trials, 2 complete, 1 of them infeasible (spec.constraints)"
    assert "infeasible" not in _counts(trials, [])
