"""A new study's seed: warm-start trials of its parents first, then ``initialTrials`` in order;
both once, and never counted as the job's own trials."""

from __future__ import annotations

from typing import Any

import optuna
import pytest
from kubetune.api import TuningJob, parse_tuningjob
from kubetune.api.spec import WarmStartParent
from kubetune.search.study import TuningStudy
from kubetune.search.views import TransferSampler
from kubetune.search.warm_start import (
    ATTR_PARENT,
    ParentNotFound,
    ParentStudy,
    WarmStartError,
    read_parent,
)
from kubetune.trials import TrialOutcome, TrialState

from tests.unit.manifests import manifest

PARAMETERS: list[dict[str, Any]] = [
    {"name": "x", "type": "float", "min": 0.0, "max": 1.0},
    {"name": "momentum", "type": "float", "min": 0.5, "max": 0.999, "scale": "reverseLog"},
    {"name": "kind", "type": "categorical", "values": ["a", "b"]},
]


def job(name: str, parameters: list[dict[str, Any]] = PARAMETERS, **spec: Any) -> TuningJob:
    document = manifest(name=name, parameters=parameters, algorithm="bayesian")
    document["spec"].update(spec)
    return parse_tuningjob(document)


def complete(study: TuningStudy, count: int, value: Any) -> None:
    for record in study.ask(count):
        objective = float(value(record.params))
        study.tell(
            record.number,
            TrialOutcome(TrialState.COMPLETE, objective, {"loss": objective}),
        )


def loader(storage: optuna.storages.BaseStorage):  # type: ignore[no-untyped-def]
    def load(parent: WarmStartParent, metric: str) -> ParentStudy:
        return read_parent(storage, parent.name, parent.name, metric)

    return load


def warm(kind: str = "identicalDataAndAlgorithm", *parents: str) -> dict[str, Any]:
    return {"type": kind, "parents": [{"name": p} for p in parents or ("parent",)]}


def test_initial_trials_are_asked_first_in_order_and_count_as_trials(
    storage: optuna.storages.BaseStorage,
) -> None:
    points = [
        {"x": 0.25, "momentum": 0.9, "kind": "b"},
        {"x": 1, "momentum": 0.5, "kind": "a"},
    ]
    study = TuningStudy(job("child", initialTrials=points), storage)

    asked = study.ask(3)

    assert [r.number for r in asked] == [0, 1, 2]
    assert [dict(r.params) for r in asked[:2]] == points
    assert len(study.records()) == 3


def test_initial_trials_are_enqueued_once_whatever_the_restarts(
    storage: optuna.storages.BaseStorage,
) -> None:
    spec = job("child", initialTrials=[{"x": 0.5, "momentum": 0.9, "kind": "a"}])
    TuningStudy(spec, storage)
    reopened = TuningStudy(spec, storage)  # a restarted operator opens it again

    asked = reopened.ask(2)

    assert asked[0].params == {"x": 0.5, "momentum": 0.9, "kind": "a"}
    assert asked[1].params != asked[0].params
    waiting = reopened.study.get_trials(states=(optuna.trial.TrialState.WAITING,))
    assert waiting == []


def test_identical_warm_start_seeds_the_study_but_not_the_jobs_trials(
    storage: optuna.storages.BaseStorage,
) -> None:
    parent = TuningStudy(job("parent"), storage)
    complete(parent, 6, lambda p: (p["x"] - 0.2) ** 2)
    narrowed = [{**PARAMETERS[0], "min": 0.0, "max": 0.5}, *PARAMETERS[1:]]
    child_job = job("child", narrowed, warmStart=warm())

    child = TuningStudy(child_job, storage, parents=loader(storage))

    assert child.warm_start_trials == 6
    seeded = child.study.get_trials(deepcopy=False)
    assert [t.user_attrs[ATTR_PARENT] for t in seeded] == ["parent"] * 6
    # A parent trial outside the narrowed range still informs the model, as it was.
    parent_x = sorted(float(r.params["x"]) for r in parent.records())
    assert sorted(t.params["x"] for t in seeded) == pytest.approx(parent_x)
    assert max(parent_x) > 0.5
    assert child.records() == []
    asked = child.ask(2)
    assert [r.number for r in asked] == [0, 1]
    assert all(0.0 <= float(r.params["x"]) <= 0.5 for r in asked)
    child.tell(0, TrialOutcome(TrialState.COMPLETE, 3.0, {"loss": 3.0}))
    assert [(r.number, r.state) for r in child.records()] == [
        (0, TrialState.COMPLETE),
        (1, TrialState.RUNNING),
    ]
    # Opened again (a restart), nothing is loaded twice.
    again = TuningStudy(child_job, storage, parents=loader(storage))
    assert again.warm_start_trials == 6
    assert len(again.study.get_trials(deepcopy=False)) == 8


def test_a_categorical_value_no_longer_allowed_cannot_be_placed(
    storage: optuna.storages.BaseStorage,
) -> None:
    parent = TuningStudy(job("parent"), storage)
    complete(parent, 8, lambda p: p["x"])
    fewer = [*PARAMETERS[:2], {"name": "kind", "type": "categorical", "values": ["a"]}]

    child = TuningStudy(job("child", fewer, warmStart=warm()), storage, parents=loader(storage))

    kept = sum(1 for r in parent.records() if r.params["kind"] == "a")
    assert child.warm_start_trials == kept
    attrs = child.study.user_attrs["kubetune.warmStart"]
    assert attrs["parents"] == {"parent": kept}
    assert attrs["skipped"] == ({"parent": 8 - kept} if kept < 8 else {})


def test_identical_warm_start_needs_the_same_parameters(
    storage: optuna.storages.BaseStorage,
) -> None:
    complete(TuningStudy(job("parent"), storage), 2, lambda p: p["x"])
    other = [*PARAMETERS[:2], {"name": "depth", "type": "int", "min": 1, "max": 3}]

    with pytest.raises(WarmStartError) as caught:
        TuningStudy(job("child", other, warmStart=warm()), storage, parents=loader(storage))

    (error,) = caught.value.errors
    assert error.path == "spec.warmStart.parents[0]"
    assert "identicalDataAndAlgorithm needs the same names and types" in error.message
    assert "(use type transferLearning)" in error.message


def test_a_missing_parent_is_an_error_and_stores_nothing(
    storage: optuna.storages.BaseStorage,
) -> None:
    def missing(parent: WarmStartParent, metric: str) -> ParentStudy:
        raise ParentNotFound(f"no TuningJob ns/{parent.name}")

    spec = job("child", warmStart=warm("transferLearning", "gone"))
    with pytest.raises(WarmStartError) as caught:
        TuningStudy(spec, storage, parents=missing)

    assert [str(e) for e in caught.value.errors] == [
        "spec.warmStart.parents[0]: no TuningJob ns/gone"
    ]
    assert "kubetune.searchSpace" not in storage.get_study_user_attrs(
        storage.get_study_id_from_name("child")
    )


def test_transfer_standardizes_each_parent_and_fills_new_parameters(
    storage: optuna.storages.BaseStorage,
) -> None:
    parent = TuningStudy(job("parent"), storage)
    complete(parent, 5, lambda p: 100 + 10 * p["x"])
    added = [*PARAMETERS, {"name": "depth", "type": "int", "min": 1, "max": 9}]
    spec = job("child", added, warmStart=warm("transferLearning"))

    child = TuningStudy(spec, storage, parents=loader(storage))

    seeded = child.study.get_trials(deepcopy=False)
    values = [float(t.value or 0.0) for t in seeded]
    assert abs(sum(values)) < 1e-9  # standardized: mean 0 ...
    assert abs(sum(v * v for v in values) / len(values) - 1) < 1e-9  # ... and spread 1
    assert all(1 <= t.params["depth"] <= 9 for t in seeded)
    assert isinstance(child.study.sampler, TransferSampler)
    # Once the job has results of its own, the sampler sees the parents on their scale.
    complete(child, 2, lambda p: 50 + p["x"])
    own = [float(r.objective or 0.0) for r in child.records()]
    view = child.study.sampler._view(child.study)
    rescaled = [float(t.value or 0.0) for t in view._get_trials()[:5]]
    mean = sum(own) / 2
    assert abs(sum(rescaled) / 5 - mean) < 1e-9
