"""``spec.objective``: the metric the search optimizes, and which way."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from kubetune.api.spec.base import (
    MAX_METRICS,
    METRIC_NAME_HELP,
    MetricName,
    SpecModel,
)

Direction = Literal["minimize", "maximize"]


class Objective(SpecModel):
    """The metric the search optimizes, and which way."""

    metric: MetricName = Field(
        description=(
            "Name of the metric to optimize, as the trial reports it (for example "
            f"validation-rmse). {METRIC_NAME_HELP}"
        )
    )
    direction: Direction = Field(
        description="Whether lower or higher values of the metric are better: minimize or maximize."
    )
    target: float | None = Field(
        default=None,
        description=(
            "Optional goal for the metric. Once a trial reaches it (at or below for minimize, at "
            "or above for maximize) the TuningJob completes with reason TargetReached. Unset: no "
            "target, the TuningJob runs until another limit ends it."
        ),
    )
    additional_metrics: list[MetricName] = Field(
        default_factory=list,
        max_length=MAX_METRICS,
        description=(
            "Further metrics to record for every trial (shown in reports and status), not "
            f"optimized, at most {MAX_METRICS}. Default: none. Each must differ from metric and "
            "from each other."
        ),
    )

    @property
    def metric_names(self) -> list[str]:
        """The objective first, then every additional metric."""
        return [self.metric, *self.additional_metrics]


# spec.objectives: a multi-objective search optimizes 2 to 4 metrics at once.
MIN_OBJECTIVES = 2
MAX_OBJECTIVES = 4


class ObjectiveTerm(SpecModel):
    """One objective of a multi-objective search (an item of ``spec.objectives``)."""

    metric: MetricName = Field(
        description=(
            "Name of a metric to optimize, as the trial reports it (for example val-loss or "
            f"latency-ms); unique among the objectives. {METRIC_NAME_HELP}"
        )
    )
    direction: Direction = Field(
        description="Whether lower or higher values of the metric are better: minimize or maximize."
    )
