"""From what a finished trial reported to how it is recorded."""

from __future__ import annotations

import math

from kubetune.api.spec import TuningJobSpec
from kubetune.api.status import TrialReason
from kubetune.controller.model import RuntimeTrial, TrialOutcome, TrialState
from kubetune.metrics.logs import MetricSeries


def _finite_metrics(spec: TuningJobSpec, series: MetricSeries | None) -> dict[str, float]:
    if series is None:
        return {}
    how = spec.metrics.objective_value
    metrics: dict[str, float] = {}
    for name in spec.objective.metric_names:
        value = series.reduce(name, how if name == spec.objective.metric else "last")
        if value is not None and math.isfinite(value):
            metrics[name] = value
    return metrics


def succeeded_outcome(spec: TuningJobSpec, series: MetricSeries | None) -> TrialOutcome:
    """A workload that exited cleanly: complete if its objective is a finite number."""
    metric = spec.objective.metric
    value = None if series is None else series.reduce(metric, spec.metrics.objective_value)
    if value is None:
        return TrialOutcome(
            TrialState.FAILED,
            metrics=_finite_metrics(spec, series),
            reason=TrialReason.METRICS_UNAVAILABLE,
            message=f"the trial never reported metric {metric!r}",
        )
    if not math.isfinite(value):
        return TrialOutcome(
            TrialState.FAILED,
            metrics=_finite_metrics(spec, series),
            reason=TrialReason.METRICS_UNAVAILABLE,
            message=f"metric {metric!r} is {value} (not a finite number)",
        )
    intermediate = tuple(series.values.get(metric, ())) if series else ()
    return TrialOutcome(
        TrialState.COMPLETE,
        objective=value,
        metrics=_finite_metrics(spec, series),
        intermediate=intermediate,
    )


def failed_outcome(spec: TuningJobSpec, runtime: RuntimeTrial) -> TrialOutcome:
    """A workload that failed: keep its reason and whatever it reported before."""
    return TrialOutcome(
        TrialState.FAILED,
        metrics=_finite_metrics(spec, runtime.metrics),
        reason=runtime.reason or TrialReason.ERROR,
        message=runtime.message or "the trial failed",
    )


def stopped_outcome(reason: str, message: str) -> TrialOutcome:
    """A trial cut short by the tuner: recorded as pruned, never as a failure."""
    return TrialOutcome(TrialState.PRUNED, reason=reason, message=message)
