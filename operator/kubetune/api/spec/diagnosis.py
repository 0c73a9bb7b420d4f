"""``spec.diagnosis``: which metrics the bias/variance diagnosis compares, against what."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

from kubetune.api.spec.base import MetricName, SpecModel

Fraction = Annotated[float, Field(gt=0, le=10)]


class DiagnosisThresholds(SpecModel):
    """When a gap between errors is a finding: above this fraction of the validation error."""

    bias: Fraction = Field(
        default=0.25,
        description=(
            "Avoidable bias (train error - baseline) above this fraction of the validation "
            "error is high bias. Default: 0.25."
        ),
    )
    variance: Fraction = Field(
        default=0.25,
        description=(
            "Variance (validation error - train error) above this fraction of the validation "
            "error is high variance. Default: 0.25."
        ),
    )
    mismatch: Fraction = Field(
        default=0.25,
        description=(
            "Test error - validation error above this fraction of the validation error is a "
            "train/test distribution mismatch. Default: 0.25."
        ),
    )


class Diagnosis(SpecModel):
    """The bias/variance diagnosis of the best trial, in reports and in status.diagnosis."""

    train_metric: MetricName = Field(
        description=(
            "The metric holding the training error (or score), one of "
            "objective.additionalMetrics; the objective is the validation error."
        )
    )
    test_metric: MetricName | None = Field(
        default=None,
        description=(
            "Optional: the metric holding the test error, one of objective.additionalMetrics; "
            "enables the train/test distribution mismatch check."
        ),
    )
    baseline: float | None = Field(
        default=None,
        description=(
            "Human-level or best achievable value of the objective, in its units (for "
            "direction maximize the best achievable score, e.g. 0.98 accuracy). Default: 0 "
            "error."
        ),
    )
    thresholds: DiagnosisThresholds = Field(
        default_factory=DiagnosisThresholds,
        description="When a gap is a finding, as a fraction of the validation error.",
    )
