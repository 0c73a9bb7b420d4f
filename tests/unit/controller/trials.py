"""Hand-built trial records and runtime observations for the reconcile-core tests."""

from __future__ import annotations

from kubetune.controller.model import Phase, RuntimeTrial
from kubetune.metrics.logs import MetricSeries, Observation
from kubetune.trials import TrialRecord, TrialState

PARAMS: dict[str, float | int | str] = {"x": 0.5, "n": 2, "kind": "a"}


def params_of(number: int) -> dict[str, float | int | str]:
    return {**PARAMS, "n": number}


def running(number: int) -> TrialRecord:
    return TrialRecord(number, TrialState.RUNNING, params_of(number))


def complete(number: int, objective: float) -> TrialRecord:
    return TrialRecord(
        number,
        TrialState.COMPLETE,
        params_of(number),
        objective=objective,
        metrics={"loss": objective},
    )


def failed(number: int, reason: str = "Error") -> TrialRecord:
    return TrialRecord(number, TrialState.FAILED, params_of(number), reason=reason)


def pruned(number: int) -> TrialRecord:
    return TrialRecord(number, TrialState.PRUNED, params_of(number), reason="Stopped")


def series(**values: list[float]) -> MetricSeries:
    result = MetricSeries()
    for name, numbers in values.items():
        for step, value in enumerate(numbers):
            result.add(Observation(name, step, value))
    return result


def workload(
    number: int,
    phase: Phase,
    *,
    reason: str | None = None,
    message: str | None = None,
    pending_since: float | None = None,
    metrics: MetricSeries | None = None,
) -> RuntimeTrial:
    return RuntimeTrial(
        number, phase, reason=reason, message=message, pending_since=pending_since, metrics=metrics
    )
