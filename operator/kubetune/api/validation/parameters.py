"""``spec.parameters``: unique names, and the rules of each type (range, scale, values)."""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import Any

from kubetune.api.errors import FieldError
from kubetune.api.spec import Parameter
from kubetune.api.validation.parts import Parts

# The fields of a parameter its type-specific rules read.
_PARAMETER_FIELDS = ("type", "min", "max", "step", "scale", "values")


def parameter_errors(parts: Parts) -> Iterator[FieldError]:
    seen: set[str] = set()
    for index, part in parts.parameters:
        path = f"spec.parameters[{index}]"
        name = parts.parameter_names.get(index)
        if name is not None:
            if name in seen:
                yield FieldError(f"{path}.name", f"duplicate parameter name {name!r}")
            seen.add(name)
        parameter = part.ok(*_PARAMETER_FIELDS)
        if parameter is None:
            continue
        if parameter.type == "categorical":
            yield from _categorical_errors(parameter, path)
        else:
            yield from _range_errors(parameter, path)


def _categorical_errors(parameter: Parameter, path: str) -> Iterator[FieldError]:
    for field in ("min", "max", "step", "scale"):
        if field in parameter.model_fields_set:
            yield FieldError(f"{path}.{field}", "not allowed for type categorical")
    if not parameter.values:
        yield FieldError(f"{path}.values", "required for type categorical (at least one value)")
        return
    first: dict[Any, Any] = {}  # by value: one lookup per value, linear in their number
    for index, value in enumerate(parameter.values):
        if isinstance(value, float) and not math.isfinite(value):
            yield FieldError(f"{path}.values[{index}]", f"must be finite (got {value!r})")
            continue
        # Optuna records a choice as the index of the first equal one, so 1, 1.0 and true
        # cannot be told apart in a study: equal values of different types are duplicates too
        # (they are equal keys of a dict as well: equal numbers hash alike).
        if value in first:
            equal = first[value]
            twin = "" if type(equal) is type(value) else f" (equals {equal!r}; quote one)"
            yield FieldError(f"{path}.values[{index}]", f"duplicate value {value!r}{twin}")
        else:
            first[value] = value


def _range_errors(parameter: Parameter, path: str) -> Iterator[FieldError]:
    kind = parameter.type
    if parameter.values is not None:
        yield FieldError(f"{path}.values", f"not allowed for type {kind} (use min and max)")
    low, high, step = parameter.min, parameter.max, parameter.step
    for field, value in (("min", low), ("max", high)):
        if value is None:
            yield FieldError(f"{path}.{field}", f"required for type {kind}")
        elif not math.isfinite(value):
            yield FieldError(f"{path}.{field}", f"must be finite (got {value!r})")
        elif kind == "int" and not float(value).is_integer():
            yield FieldError(
                f"{path}.{field}", f"must be a whole number for type int (got {value})"
            )
    if kind == "int" and step is not None and not float(step).is_integer():
        yield FieldError(f"{path}.step", f"must be a whole number for type int (got {step})")
    if low is None or high is None or not (math.isfinite(low) and math.isfinite(high)):
        return
    if low >= high:
        yield FieldError(f"{path}.max", f"must be greater than min ({high} <= {low})")
        return
    if step is not None and step > high - low:
        yield FieldError(f"{path}.step", f"must not exceed max - min ({step} > {high - low})")
    if parameter.scale == "log":
        if low <= 0:
            yield FieldError(f"{path}.min", f"must be > 0 for scale log (got {low})")
        if step is not None and not (kind == "int" and step == 1):
            yield FieldError(f"{path}.step", "not supported with scale log (only step 1 for int)")
    elif parameter.scale == "auto":
        if kind == "int":
            yield FieldError(f"{path}.scale", "auto is only for type float")
        if step is not None:
            yield FieldError(f"{path}.step", "not supported with scale auto")
    elif parameter.scale == "reverseLog":
        if kind == "int":
            yield FieldError(f"{path}.scale", "reverseLog is only for type float")
        if low < 0 or high >= 1:
            yield FieldError(
                f"{path}.min" if low < 0 else f"{path}.max",
                f"reverseLog needs 0 <= min < max < 1 (got min {low}, max {high})",
            )
        if step is not None:
            yield FieldError(f"{path}.step", "not supported with scale reverseLog")


def is_finite_parameter(parameter: Parameter) -> bool:
    return parameter.type != "float" or parameter.step is not None
