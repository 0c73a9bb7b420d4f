"""``spec.objective``: distinct metrics, a finite target."""

from __future__ import annotations

import math
from collections.abc import Iterator

from kubetune.api.errors import FieldError
from kubetune.api.validation.parts import Parts


def metric_names(parts: Parts) -> list[str] | None:
    objective = parts.objective.ok("metric", "additionalMetrics")
    return None if objective is None else objective.metric_names


def objective_errors(parts: Parts) -> Iterator[FieldError]:
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
