"""``spec.diagnosis``: accepted with metrics of the objective, refused with a clear error."""

from __future__ import annotations

from typing import Any

import pytest
from kubetune.api import SpecError, parse_tuningjob

from tests.unit.manifests import manifest


def diagnosed(**diagnosis: Any) -> dict[str, Any]:
    document = manifest(objective={"additionalMetrics": ["train-loss", "test-loss"]})
    document["spec"]["diagnosis"] = diagnosis
    return document


def errors_of(document: dict[str, Any]) -> list[str]:
    with pytest.raises(SpecError) as caught:
        parse_tuningjob(document)
    return [str(error) for error in caught.value.errors]


def test_accepted_with_defaults() -> None:
    spec = parse_tuningjob(diagnosed(trainMetric="train-loss", testMetric="test-loss")).spec
    assert spec.diagnosis is not None
    assert (spec.diagnosis.train_metric, spec.diagnosis.test_metric) == ("train-loss", "test-loss")
    assert spec.diagnosis.baseline is None
    thresholds = spec.diagnosis.thresholds
    assert (thresholds.bias, thresholds.variance, thresholds.mismatch) == (0.25, 0.25, 0.25)
    assert parse_tuningjob(manifest()).spec.diagnosis is None


def test_metrics_must_be_additional_metrics() -> None:
    assert errors_of(diagnosed(trainMetric="accuracy")) == [
        "spec.diagnosis.trainMetric: 'accuracy' must be one of objective.additionalMetrics "
        "(now: train-loss, test-loss)"
    ]
    assert errors_of(diagnosed(trainMetric="train-loss", testMetric="train-loss")) == [
        "spec.diagnosis.testMetric: must differ from trainMetric"
    ]


def test_baseline_finite_and_thresholds_positive() -> None:
    assert errors_of(diagnosed(trainMetric="train-loss", baseline=float("inf"))) == [
        "spec.diagnosis.baseline: must be finite (got inf)"
    ]
    found = errors_of(diagnosed(trainMetric="train-loss", thresholds={"bias": 0}))
    assert len(found) == 1
    assert found[0].startswith("spec.diagnosis.thresholds.bias:")


def test_checked_beside_structural_errors() -> None:
    document = diagnosed(trainMetric="accuracy")
    document["spec"]["limits"]["maxTrials"] = "many"
    found = errors_of(document)
    assert any(e.startswith("spec.limits.maxTrials:") for e in found)
    assert any(e.startswith("spec.diagnosis.trainMetric:") for e in found)
