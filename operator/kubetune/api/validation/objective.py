"""``spec.objective`` or ``spec.objectives``: one of them, distinct metrics, a finite target;
what a multi-objective search cannot do (one value to stop early on, to diagnose, to model
with CMA-ES)."""

from __future__ import annotations

import math
from collections.abc import Iterator

from kubetune.api.errors import FieldError
from kubetune.api.spec import MAX_OBJECTIVES, MIN_OBJECTIVES, TuningJobSpec
from kubetune.api.validation.parts import Parts

# Strategies that can search for a Pareto front (the others model one value).
MULTI_OBJECTIVE_ALGORITHMS = ("bayesian", "random", "grid", "gp")


def metric_names(parts: Parts) -> list[str] | None:
    """The optimized and additional metrics, None if some are not known (did not validate)."""
    if parts.objectives is not None:
        terms = [part.ok("metric") for _, part in parts.objectives]
        if any(term is None for term in terms):
            return None
        return [term.metric for term in terms if term is not None]
    objective = parts.objective.ok("metric", "additionalMetrics")
    return None if objective is None else objective.metric_names


def objective_errors(parts: Parts) -> Iterator[FieldError]:
    yield from _one_of(parts)
    objective = parts.objective.ok("additionalMetrics")
    if objective is not None:
        seen = {objective.metric}
        for index, name in enumerate(objective.additional_metrics):
            if name in seen:
                yield FieldError(
                    f"spec.objective.additionalMetrics[{index}]", f"duplicate metric {name!r}"
                )
            seen.add(name)
    objective = parts.objective.ok("target")
    target = None if objective is None else objective.target
    if target is not None and not math.isfinite(target):
        yield FieldError("spec.objective.target", f"must be finite (got {target})")
    if parts.objectives is not None:
        yield from _multi_objective_errors(parts)


def multi_objective_warm_start_errors(spec: TuningJobSpec) -> Iterator[FieldError]:
    """Transfer learning standardizes one objective per parent: not defined for several."""
    if spec.multi_objective and spec.warm_start is not None and spec.warm_start.transfer:
        yield FieldError(
            "spec.warmStart.type",
            "transferLearning relates one objective across jobs; with spec.objectives use "
            "identicalDataAndAlgorithm",
        )


def _one_of(parts: Parts) -> Iterator[FieldError]:
    if parts.objective_given and parts.objectives is not None:
        yield FieldError(
            "spec.objectives",
            "give objective (one metric) or objectives (2-4 metrics), not both",
        )
    elif not parts.objective_given and parts.objectives is None:
        yield FieldError("spec.objective", "required (or spec.objectives, for 2-4 metrics)")


def _multi_objective_errors(parts: Parts) -> Iterator[FieldError]:
    objectives = parts.objectives or []
    count = len(objectives)
    if count < MIN_OBJECTIVES:
        yield FieldError(
            "spec.objectives",
            f"{count} item{'' if count == 1 else 's'}, need {MIN_OBJECTIVES}-{MAX_OBJECTIVES} "
            "(for one metric use spec.objective)",
        )
    seen: set[str] = set()
    for index, part in objectives:
        term = part.ok("metric")
        if term is None:
            continue
        if term.metric in seen:
            yield FieldError(
                f"spec.objectives[{index}].metric", f"duplicate metric {term.metric!r}"
            )
        seen.add(term.metric)
    strategy = parts.strategy.ok("algorithm")
    if strategy is not None and strategy.algorithm not in MULTI_OBJECTIVE_ALGORITHMS:
        yield FieldError(
            "spec.strategy.algorithm",
            f"{strategy.algorithm} optimizes a single objective; with spec.objectives use one "
            f"of {', '.join(MULTI_OBJECTIVE_ALGORITHMS)}",
        )
    early = parts.early_stopping.ok("algorithm")
    if early is not None and early.algorithm != "none":
        yield FieldError(
            "spec.earlyStopping.algorithm",
            f"{early.algorithm} compares one objective across trials; with spec.objectives "
            "use none",
        )
    if parts.diagnosis is not None:
        yield FieldError(
            "spec.diagnosis",
            "diagnoses the best trial of a single objective; not available with spec.objectives",
        )
