"""``spec.constraints``: a bound each, in order, finite, one constraint per metric."""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence

from kubetune.api.errors import FieldError
from kubetune.api.spec import Constraint


def constraint_errors(constraints: Sequence[Constraint]) -> Iterator[FieldError]:
    seen: set[str] = set()
    for index, constraint in enumerate(constraints):
        path = f"spec.constraints[{index}]"
        if constraint.metric in seen:
            yield FieldError(f"{path}.metric", f"duplicate metric {constraint.metric!r}")
        seen.add(constraint.metric)
        low, high = constraint.min, constraint.max
        if low is None and high is None:
            yield FieldError(path, "needs min, max or both")
        for field, value in (("min", low), ("max", high)):
            if value is not None and not math.isfinite(value):
                yield FieldError(f"{path}.{field}", f"must be finite (got {value})")
        if low is not None and high is not None and low > high:
            yield FieldError(f"{path}.max", f"must be at least min ({high} < {low})")
