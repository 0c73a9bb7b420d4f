"""``spec.constraints``: bounds on reported metrics; a trial outside one is infeasible."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from pydantic import Field

from kubetune.api.spec.base import METRIC_NAME_HELP, MetricName, SpecModel


class Constraint(SpecModel):
    """A bound on a metric every trial reports: violating it makes the trial infeasible."""

    metric: MetricName = Field(
        description=(
            "The metric the bound applies to, as the trial reports it (for example "
            f"gpu-memory-gb); recorded for every trial like additionalMetrics. {METRIC_NAME_HELP}"
        )
    )
    min: float | None = Field(
        default=None,
        description="Lowest feasible value, inclusive. At least one of min and max is required.",
    )
    max: float | None = Field(
        default=None,
        description="Highest feasible value, inclusive. At least one of min and max is required.",
    )

    def violation(self, value: float) -> float:
        """How far ``value`` is outside the bounds (Optuna's convention: <= 0 is feasible)."""
        below = self.min - value if self.min is not None else -float("inf")
        above = value - self.max if self.max is not None else -float("inf")
        return max(below, above)


def violations(constraints: Sequence[Constraint], metrics: Mapping[str, float]) -> list[float]:
    """One value per constraint, Optuna's ``constraints`` (<= 0: satisfied); a metric that was
    not reported counts as violated (infinitely)."""
    return [
        c.violation(metrics[c.metric]) if c.metric in metrics else float("inf") for c in constraints
    ]


def is_feasible(constraints: Sequence[Constraint], metrics: Mapping[str, float]) -> bool:
    return all(v <= 0 for v in violations(constraints, metrics))
