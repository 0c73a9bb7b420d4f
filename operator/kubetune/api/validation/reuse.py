"""Cross-field rules of ``initialTrials`` and ``warmStart``: each initial trial is a point of
the search space (every parameter, nothing else, each value allowed), parents are unique."""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from kubetune.api.errors import FieldError
from kubetune.api.spec import CategoricalValue, Parameter, WarmStart

# A stepped value is on its grid when within this fraction of a step of it (floating point).
_STEP_TOLERANCE = 1e-9


def initial_trial_errors(
    parameters: Sequence[Parameter],
    initial_trials: Sequence[Mapping[str, Any]],
    max_trials: int | None = None,
) -> Iterator[FieldError]:
    """``spec.initialTrials[i].NAME: why`` for every value that is not a point of the space;
    more initial trials than ``max_trials`` could never all run."""
    if max_trials is not None and len(initial_trials) > max_trials:
        yield FieldError(
            "spec.initialTrials",
            f"{len(initial_trials)} initial trials, more than limits.maxTrials {max_trials}",
        )
    by_name = {parameter.name: parameter for parameter in parameters}
    for index, point in enumerate(initial_trials):
        path = f"spec.initialTrials[{index}]"
        for name in point:
            if name not in by_name:
                known = ", ".join(by_name)
                yield FieldError(f"{path}.{name}", f"names no parameter (parameters: {known})")
        for name, parameter in by_name.items():
            if name not in point:
                yield FieldError(
                    f"{path}.{name}", "required: each initial trial sets every parameter"
                )
                continue
            problem = value_problem(parameter, point[name])
            if problem is not None:
                yield FieldError(f"{path}.{name}", problem)


def value_problem(parameter: Parameter, value: CategoricalValue) -> str | None:
    """Why ``value`` is not a value ``parameter`` can take, or None if it is."""
    if parameter.type == "categorical":
        values = parameter.values or []
        # Equal and of the same type: Optuna tells 1, 1.0 and true apart only by position.
        if not any(type(v) is type(value) and v == value for v in values):
            return f"{value!r} is not among values {values}"
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        return f"must be a number for type {parameter.type} (got {value!r})"
    if not math.isfinite(value):
        return f"must be finite (got {value!r})"
    if parameter.type == "int" and not float(value).is_integer():
        return f"must be a whole number for type int (got {value})"
    low, high = parameter.min, parameter.max
    if low is not None and value < low:
        return f"{value} is below min {_number(low)}"
    if high is not None and value > high:
        return f"{value} is above max {_number(high)}"
    step = parameter.step
    if step is not None and low is not None:
        offset = (value - low) / step
        if abs(offset - round(offset)) > _STEP_TOLERANCE * max(1.0, abs(offset)):
            return f"{value} is not min + a multiple of step {_number(step)}"
    return None


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else str(value)


def warm_start_errors(warm_start: WarmStart | None) -> Iterator[FieldError]:
    if warm_start is None:
        return
    seen: set[tuple[str, str | None]] = set()
    for index, parent in enumerate(warm_start.parents):
        key = (parent.name, parent.namespace)
        if key in seen:
            yield FieldError(
                f"spec.warmStart.parents[{index}]", f"duplicate parent {parent.name!r}"
            )
        seen.add(key)
