"""``spec.objectives``: a multi-objective TuningJob, and what it cannot be combined with."""

from __future__ import annotations

from typing import Any

import pytest
from kubetune.api import SpecError, parse_tuningjob

from tests.unit.manifests import REMOVE, manifest, tweak

TWO = [
    {"metric": "loss", "direction": "minimize"},
    {"metric": "latency-ms", "direction": "minimize"},
]


def multi(objectives: Any = TWO, **options: Any) -> dict[str, Any]:
    return tweak(
        tweak(manifest(**options), "spec.objective", REMOVE), "spec.objectives", objectives
    )


def errors_of(document: Any) -> list[str]:
    with pytest.raises(SpecError) as caught:
        parse_tuningjob(document)
    return [str(error) for error in caught.value.errors]


def test_two_objectives_make_a_multi_objective_spec() -> None:
    spec = parse_tuningjob(multi()).spec
    assert spec.multi_objective
    assert spec.objective is None
    assert spec.objective_metrics == ["loss", "latency-ms"]
    assert spec.directions == ["minimize", "minimize"]
    assert spec.recorded_metrics == ["loss", "latency-ms"]
    assert spec.objective_summary == "minimize loss, minimize latency-ms"


def test_single_objective_spec_keeps_its_terms() -> None:
    spec = parse_tuningjob(manifest(objective={"additionalMetrics": ["acc"]})).spec
    assert not spec.multi_objective
    assert spec.objective_metrics == ["loss"]
    assert spec.recorded_metrics == ["loss", "acc"]


def test_one_objective_in_the_list_is_refused() -> None:
    assert errors_of(multi(TWO[:1])) == [
        "spec.objectives: 1 item, need 2-4 (for one metric use spec.objective)"
    ]


def test_five_objectives_are_refused() -> None:
    five = [{"metric": f"m{i}", "direction": "minimize"} for i in range(5)]
    assert errors_of(multi(five)) == ["spec.objectives: must have at most 4 item(s)"]


def test_objective_and_objectives_together_are_refused() -> None:
    both = tweak(manifest(), "spec.objectives", TWO)
    assert errors_of(both) == [
        "spec.objectives: give objective (one metric) or objectives (2-4 metrics), not both"
    ]


def test_neither_objective_nor_objectives_is_refused() -> None:
    assert errors_of(tweak(manifest(), "spec.objective", REMOVE)) == [
        "spec.objective: required (or spec.objectives, for 2-4 metrics)"
    ]


def test_duplicate_objective_metrics_are_refused() -> None:
    twice = [TWO[0], {"metric": "loss", "direction": "maximize"}]
    assert errors_of(multi(twice)) == ["spec.objectives[1].metric: duplicate metric 'loss'"]


def test_a_target_per_objective_is_refused_saying_what_ends_the_job() -> None:
    with_target = [{**TWO[0], "target": 0.1}, TWO[1]]
    (error,) = errors_of(multi(with_target))
    assert error.startswith("spec.objectives[0].target: unknown field: a target ends a search")
    assert "stopAfterTrialsWithoutImprovement" in error


def test_other_unknown_fields_say_only_that() -> None:
    with_typo = [{**TWO[0], "metrics": "x"}, TWO[1]]
    assert errors_of(multi(with_typo)) == ["spec.objectives[0].metrics: unknown field"]


def test_rules_that_need_one_objective_are_refused() -> None:
    document = tweak(multi(algorithm="cmaes"), "spec.earlyStopping", {"algorithm": "median"})
    document = tweak(document, "spec.diagnosis", {"trainMetric": "train-loss"})
    assert errors_of(document) == [
        "spec.strategy.algorithm: cmaes optimizes a single objective; with spec.objectives use "
        "one of bayesian, random, grid, gp",
        "spec.earlyStopping.algorithm: median compares one objective across trials; with "
        "spec.objectives use none",
        "spec.diagnosis: diagnoses the best trial of a single objective; not available with "
        "spec.objectives",
    ]


def test_regex_format_needs_a_definition_for_every_objective() -> None:
    metrics = {"format": "regex", "definitions": [{"name": "loss", "regex": "loss=(.*)"}]}
    assert errors_of(multi(metrics=metrics)) == [
        "spec.metrics.definitions: format regex needs a definition for metric 'latency-ms'"
    ]
