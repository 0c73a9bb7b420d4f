"""From what a finished trial reported to how it is recorded."""

from __future__ import annotations

import math
from collections.abc import Mapping

from kubetune.api.spec import TuningJobSpec
from kubetune.api.status import TrialReason
from kubetune.controller.model import RuntimeTrial
from kubetune.metrics.logs import MetricSeries
from kubetune.trials import TrialOutcome, TrialState


def _finite_metrics(spec: TuningJobSpec, series: MetricSeries | None) -> dict[str, float]:
    if series is None:
        return {}
    how = spec.metrics.objective_value
    objectives = spec.objective_metrics
    metrics: dict[str, float] = {}
    for name in spec.recorded_metrics:
        value = series.reduce(name, how if name in objectives else "last")
        if value is not None and math.isfinite(value):
            metrics[name] = value
    return metrics


def succeeded_outcome(spec: TuningJobSpec, series: MetricSeries | None) -> TrialOutcome:
    """A workload that exited cleanly: complete if each objective is a finite number."""
    values: list[float] = []
    for metric in spec.objective_metrics:
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
        values.append(value)
    metrics = _finite_metrics(spec, series)
    missing = [c.metric for c in spec.constraints if c.metric not in metrics]
    if missing:  # feasibility cannot be told: not a result the search may learn from
        return TrialOutcome(
            TrialState.FAILED,
            metrics=metrics,
            reason=TrialReason.METRICS_UNAVAILABLE,
            message="the trial never reported constrained metric "
            + ", ".join(repr(name) for name in missing),
        )
    # Intermediate values are for early stopping: without it, none is journaled.
    judged = spec.early_stopping.algorithm != "none"  # never with several objectives
    metric = spec.objective_metrics[0]
    intermediate = series.observations(metric) if series and judged else ()
    if spec.multi_objective:
        return TrialOutcome(TrialState.COMPLETE, metrics=metrics, values=tuple(values))
    return TrialOutcome(
        TrialState.COMPLETE,
        objective=values[0],
        metrics=metrics,
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


def pruned_outcome(
    spec: TuningJobSpec, intermediate: Mapping[int, float], series: MetricSeries | None
) -> TrialOutcome:
    """A trial stopped by ``spec.earlyStopping``: pruned, with its last reported value."""
    last_step = max(intermediate) if intermediate else None
    objective = intermediate[last_step] if last_step is not None else None
    at = f" at step {last_step}" if last_step is not None else ""
    metric = spec.objective_metrics[0]  # early stopping needs a single objective
    value = f" ({metric} {objective:g}{at})" if objective is not None else ""
    return TrialOutcome(
        TrialState.PRUNED,
        objective=objective,
        metrics=_finite_metrics_last(spec, series),
        reason=TrialReason.PRUNED,
        message=f"stopped early by earlyStopping {spec.early_stopping.algorithm}{value}",
    )


def _finite_metrics_last(spec: TuningJobSpec, series: MetricSeries | None) -> dict[str, float]:
    if series is None:
        return {}
    metrics: dict[str, float] = {}
    for name in spec.recorded_metrics:
        value = series.latest(name)
        if value is not None and math.isfinite(value):
            metrics[name] = value
    return metrics
