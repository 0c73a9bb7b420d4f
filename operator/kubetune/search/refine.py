"""Refine a search space around the best trials of a finished search (``kubetune clone
--refine``): pure functions from parameters and trials to narrower parameters, each with the
reason it changed.

The rule, per parameter, on the parameter's own scale (the logarithm for ``log``, the logarithm
of ``1 - value`` for ``reverseLog``, the value itself for ``linear``):

- take the values of the top K completed trials; the new range is their span widened by half of
  it on each side, and by at least 10% of the parent's width (``MARGIN_OF_SPAN``,
  ``MIN_MARGIN_OF_WIDTH``), so a range never collapses onto one value and a region just beside
  the best trials stays in reach;
- never outside the parent range; ``int`` bounds rounded outward to whole numbers, a ``step``
  kept (bounds moved outward onto the parent's grid), floats rounded outward to 3 significant
  digits (within the parent range) so the manifest reads well;
- categorical values that none of the top K trials used are dropped (order kept).

With several objectives (``spec.objectives``) no trial is best: the top K are K trials of the
Pareto front, well spread over it (``kubetune.search.pareto``), so the narrowed space still holds
the whole trade-off.

Trials outside the parent's ranges (warm-started from elsewhere) are not the job's and never
reach here; the clone warm-starts from the source, so no result is lost by narrowing.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from kubetune.api.spec import Constraint, Direction, Parameter, TuningJobSpec, is_feasible
from kubetune.search.pareto import listed_front, pareto_trials
from kubetune.trials import ParamValue, TrialRecord, TrialState

MARGIN_OF_SPAN = 0.5
MIN_MARGIN_OF_WIDTH = 0.1
SIGNIFICANT_DIGITS = 3


@dataclass(frozen=True)
class Refined:
    """A parameter of the refined space, and why it is what it is (one line, for a comment)."""

    parameter: Parameter
    reason: str


def top_trials(
    trials: Sequence[TrialRecord],
    direction: Direction,
    k: int,
    constraints: Sequence[Constraint] = (),
) -> list[TrialRecord]:
    """The ``k`` best completed feasible trials (``spec.constraints``), best first."""
    complete = [
        t
        for t in trials
        if t.state is TrialState.COMPLETE
        and t.objective is not None
        and math.isfinite(t.objective)
        and is_feasible(constraints, t.metrics)
    ]
    return sorted(
        complete, key=lambda t: float(t.objective or 0.0), reverse=direction == "maximize"
    )[:k]


def refine_around(spec: TuningJobSpec, trials: Sequence[TrialRecord], k: int) -> list[TrialRecord]:
    """The trials a refinement narrows the ranges around: the ``k`` best feasible ones, or with
    several objectives at most ``k`` well spread trials of the Pareto front."""
    if spec.multi_objective:
        return listed_front(spec, pareto_trials(spec, trials), k)
    return top_trials(trials, spec.directions[0], k, spec.constraints)


def refine(parameters: Sequence[Parameter], top: Sequence[TrialRecord]) -> list[Refined]:
    """Each parameter narrowed around ``top`` (at least one trial)."""
    if not top:
        raise ValueError("refining needs at least one completed trial")
    refined = []
    for parameter in parameters:
        values = [t.params[parameter.name] for t in top if parameter.name in t.params]
        if not values:
            refined.append(Refined(parameter, "unchanged: no top trial has a value for it"))
        elif parameter.type == "categorical":
            refined.append(_categorical(parameter, values))
        else:
            refined.append(_numeric(parameter, [float(v) for v in values], len(top)))
    return refined


def _categorical(parameter: Parameter, used: Sequence[ParamValue]) -> Refined:
    values = list(parameter.values or [])
    kept = [v for v in values if any(type(u) is type(v) and u == v for u in used)]
    dropped = [v for v in values if v not in kept]
    if not dropped:
        return Refined(parameter, f"unchanged: the top trials use every value of {values}")
    new = parameter.model_copy(update={"values": kept})
    shown = ", ".join(map(str, dropped))
    return Refined(new, f"dropped {shown}: no top trial used it")


def _forward(parameter: Parameter, value: float) -> float:
    if parameter.scale == "log":
        return math.log(value)
    if parameter.scale == "reverseLog":
        return math.log(1.0 - value)
    return value


def _backward(parameter: Parameter, value: float) -> float:
    if parameter.scale == "log":
        return math.exp(value)
    if parameter.scale == "reverseLog":
        return 1.0 - math.exp(value)
    return value


def _numeric(parameter: Parameter, values: Sequence[float], count: int) -> Refined:
    low, high = float(parameter.min or 0.0), float(parameter.max or 0.0)
    # On the parameter's own scale (reverseLog turns round: 1 - x grows as x falls).
    ends = sorted((_forward(parameter, low), _forward(parameter, high)))
    points = [_forward(parameter, v) for v in values]
    width = ends[1] - ends[0]
    span = max(points) - min(points)
    margin = max(MARGIN_OF_SPAN * span, MIN_MARGIN_OF_WIDTH * width)
    a = max(ends[0], min(points) - margin)
    b = min(ends[1], max(points) + margin)
    new_low, new_high = sorted((_backward(parameter, a), _backward(parameter, b)))
    new_low, new_high = _tidy(parameter, new_low, new_high, low, high)
    scale = f"{parameter.scale} scale"
    trials = f"top {count} trial{'s' if count > 1 else ''}"
    best = f"{trials} span {_show(min(values))}..{_show(max(values))}"
    edge = _edge(min(values), max(values), low, high)
    if (new_low, new_high) == (low, high):
        return Refined(parameter, f"unchanged: the {best}, across the range ({scale}){edge}")
    new = parameter.model_copy(update={"min": new_low, "max": new_high})
    return Refined(
        new,
        f"{_show(low)}..{_show(high)} -> {_show(new_low)}..{_show(new_high)}: the {best}; "
        f"widened by a margin on the {scale}, within the parent range{edge}",
    )


def _edge(smallest: float, largest: float, low: float, high: float) -> str:
    """A warning when the top trials sit on a bound: the optimum may lie beyond it, where a
    refined range (never outside the parent's) cannot reach; widening is the user's call."""
    at = [
        f"{name} {_show(bound)}"
        for name, bound, value in (("min", low, smallest), ("max", high, largest))
        if math.isclose(value, bound, rel_tol=1e-9, abs_tol=1e-12)
    ]
    if not at:
        return ""
    return f"; NOTE top trials at the parent's {' and '.join(at)}: the best may lie beyond it"


def _tidy(
    parameter: Parameter, new_low: float, new_high: float, low: float, high: float
) -> tuple[float, float]:
    """Bounds rounded outward (whole numbers, the step grid, 3 significant digits), kept inside
    the parent range and apart from each other."""
    step = parameter.step
    if step is not None:
        new_low = low + math.floor((new_low - low) / step + 1e-9) * step
        new_high = low + math.ceil((new_high - low) / step - 1e-9) * step
        if new_high <= new_low:
            new_high = new_low + step
    elif parameter.type == "int":
        new_low, new_high = math.floor(new_low), math.ceil(new_high)
        if new_high <= new_low:
            new_high = new_low + 1
    else:
        new_low, new_high = _round(new_low, math.floor), _round(new_high, math.ceil)
    new_low, new_high = max(low, new_low), min(high, new_high)
    if new_high <= new_low:  # squeezed against a bound: the parent's range there
        return low, high
    if parameter.type == "int" or (step is not None and float(step).is_integer()):
        return float(int(new_low)), float(int(new_high))
    return float(f"{new_low:.12g}"), float(f"{new_high:.12g}")


def _round(value: float, direction: object) -> float:
    if value == 0 or not math.isfinite(value):
        return value
    exponent = math.floor(math.log10(abs(value))) - (SIGNIFICANT_DIGITS - 1)
    unit = 10.0**exponent
    rounded = direction(value / unit) * unit  # type: ignore[operator]
    return float(f"{rounded:.{SIGNIFICANT_DIGITS}g}")


def _show(value: float) -> str:
    return f"{value:.4g}"
