"""``spec.diagnosis``: its metrics are additional metrics of the objective, its baseline finite."""

from __future__ import annotations

import math
from collections.abc import Iterator

from kubetune.api.errors import FieldError
from kubetune.api.validation.parts import Parts


def diagnosis_errors(parts: Parts) -> Iterator[FieldError]:
    if parts.diagnosis is None:
        return
    diagnosis = parts.diagnosis.ok("trainMetric", "testMetric")
    objective = parts.objective.ok("metric", "additionalMetrics")
    if diagnosis is not None and objective is not None:
        additional = objective.additional_metrics
        for field, name in (
            ("trainMetric", diagnosis.train_metric),
            ("testMetric", diagnosis.test_metric),
        ):
            if name is not None and name not in additional:
                listed = ", ".join(additional) or "none"
                yield FieldError(
                    f"spec.diagnosis.{field}",
                    f"{name!r} must be one of objective.additionalMetrics (now: {listed})",
                )
        if diagnosis.test_metric is not None and diagnosis.test_metric == diagnosis.train_metric:
            yield FieldError("spec.diagnosis.testMetric", "must differ from trainMetric")
    diagnosis = parts.diagnosis.ok("baseline")
    baseline = None if diagnosis is None else diagnosis.baseline
    if baseline is not None and not math.isfinite(baseline):
        yield FieldError("spec.diagnosis.baseline", f"must be finite (got {baseline})")
