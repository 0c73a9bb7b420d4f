"""``spec.initialTrials`` and ``spec.warmStart``: checked when the manifest is loaded, each
problem named by its field path."""

from __future__ import annotations

from typing import Any

import pytest
from kubetune.api import SpecError, parse_tuningjob

from tests.unit.manifests import manifest

PARAMETERS: list[dict[str, Any]] = [
    {"name": "learning_rate", "type": "float", "min": 0.001, "max": 0.5, "scale": "log"},
    {"name": "max_depth", "type": "int", "min": 2, "max": 6},
    {"name": "subsample", "type": "float", "min": 0.5, "max": 1.0, "step": 0.1},
    {"name": "loss", "type": "categorical", "values": ["squared_error", "huber", 1]},
]
GOOD = {"learning_rate": 0.05, "max_depth": 4, "subsample": 0.8, "loss": "huber"}


def with_reuse(**spec: Any) -> dict[str, Any]:
    document = manifest(parameters=PARAMETERS)
    document["spec"].update(spec)
    return document


def errors_of(document: dict[str, Any]) -> list[str]:
    with pytest.raises(SpecError) as caught:
        parse_tuningjob(document)
    return [str(error) for error in caught.value.errors]


def test_initial_trials_and_warm_start_are_read() -> None:
    job = parse_tuningjob(
        with_reuse(
            initialTrials=[GOOD, {**GOOD, "max_depth": 6, "loss": 1}],
            warmStart={
                "type": "transferLearning",
                "parents": [{"name": "gbm-v1"}, {"name": "gbm-v0", "namespace": "ml"}],
            },
        )
    )
    assert job.spec.initial_trials[1] == {**GOOD, "max_depth": 6, "loss": 1}
    assert job.spec.warm_start is not None
    assert job.spec.warm_start.transfer
    assert [(p.name, p.namespace) for p in job.spec.warm_start.parents] == [
        ("gbm-v1", None),
        ("gbm-v0", "ml"),
    ]


VALUES = "['squared_error', 'huber', 1]"


@pytest.mark.parametrize(
    ("change", "error"),
    [
        ({"max_depth": 9}, "max_depth: 9 is above max 6"),
        ({"max_depth": 1}, "max_depth: 1 is below min 2"),
        ({"max_depth": 4.5}, "max_depth: must be a whole number for type int (got 4.5)"),
        ({"learning_rate": "fast"}, "learning_rate: must be a number for type float (got 'fast')"),
        ({"subsample": 0.85}, "subsample: 0.85 is not min + a multiple of step 0.1"),
        ({"loss": "absolute"}, f"loss: 'absolute' is not among values {VALUES}"),
        ({"loss": True}, f"loss: True is not among values {VALUES}"),
        (
            {"depth": 3},
            "depth: names no parameter (parameters: learning_rate, max_depth, subsample, loss)",
        ),
    ],
)
def test_a_bad_initial_trial_names_the_field(change: dict[str, Any], error: str) -> None:
    assert errors_of(with_reuse(initialTrials=[GOOD, {**GOOD, **change}])) == [
        f"spec.initialTrials[1].{error}"
    ]


def test_an_initial_trial_must_set_every_parameter() -> None:
    point = {k: v for k, v in GOOD.items() if k != "loss"}
    assert errors_of(with_reuse(initialTrials=[point])) == [
        "spec.initialTrials[0].loss: required: each initial trial sets every parameter"
    ]


def test_more_initial_trials_than_max_trials_is_refused() -> None:
    document = with_reuse(initialTrials=[GOOD] * 3)
    document["spec"]["limits"]["maxTrials"] = 2
    assert errors_of(document) == [
        "spec.initialTrials: 3 initial trials, more than limits.maxTrials 2"
    ]


def parents(*names: str) -> list[dict[str, str]]:
    return [{"name": name} for name in names]


@pytest.mark.parametrize(
    ("warm_start", "error"),
    [
        (
            {"type": "identical", "parents": parents("a")},
            "type: must be one of 'identicalDataAndAlgorithm' or 'transferLearning' "
            "(got 'identical')",
        ),
        ({"type": "transferLearning", "parents": []}, "parents: must have at least 1 item(s)"),
        (
            {"type": "transferLearning", "parents": parents(*"abcdef")},
            "parents: must have at most 5 item(s)",
        ),
        (
            {"type": "transferLearning", "parents": parents("a", "a")},
            "parents[1]: duplicate parent 'a'",
        ),
        (
            {"type": "transferLearning", "parents": parents("Bad_Name")},
            "parents[0].name: must match ^[a-z0-9]([-a-z0-9]*[a-z0-9])?$ (got 'Bad_Name')",
        ),
    ],
)
def test_a_bad_warm_start_names_the_field(warm_start: dict[str, Any], error: str) -> None:
    assert errors_of(with_reuse(warmStart=warm_start)) == [f"spec.warmStart.{error}"]
