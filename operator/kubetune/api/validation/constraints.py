"""``spec.constraints``: a bound each, in order, finite, one constraint per metric."""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence

from kubetune.api.errors import FieldError
from kubetune.api.spec import Constraint, TuningJobSpec


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


def constrained_metric_errors(spec: TuningJobSpec) -> Iterator[FieldError]:
    """A constrained metric needs a regex definition or a Prometheus query where the objective
    metrics do (``validation.metrics`` checks theirs)."""
    names = spec.metric_names
    extra = [c.metric for c in spec.constraints if c.metric not in names]
    metrics = spec.metrics
    if metrics.source == "logs" and metrics.format == "regex":
        defined = {d.name for d in metrics.definitions}
        for name in extra:
            if name not in defined:
                yield FieldError(
                    "spec.metrics.definitions",
                    f"format regex needs a definition for constrained metric {name!r}",
                )
    if metrics.source == "prometheus":
        queried = {q.metric for q in metrics.prometheus.queries} if metrics.prometheus else set()
        for name in extra:
            if name not in queried:
                yield FieldError(
                    "spec.metrics.prometheus.queries",
                    f"source prometheus needs a query for constrained metric {name!r}",
                )
