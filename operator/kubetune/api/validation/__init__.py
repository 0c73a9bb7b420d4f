"""Rules that span fields, checked after the structure is known to be right.

Each check yields ``FieldError``s so a user sees every problem of a manifest in one go. The
checks also run on a manifest whose structure is wrong (``partial_semantic_errors``): each part
of the spec that validates on its own is checked, and a check whose inputs did not validate is
skipped, so fixing the structural errors does not reveal a second list.

One module per part of the spec, as in ``kubetune.api.spec``: a new rule goes beside its field.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import ValidationError

from kubetune.api.errors import FieldError
from kubetune.api.spec import TuningJob
from kubetune.api.validation.constraints import constrained_metric_errors, constraint_errors
from kubetune.api.validation.diagnosis import diagnosis_errors
from kubetune.api.validation.limits import limits_errors
from kubetune.api.validation.metrics import (
    QUERY_VARIABLE,
    QUERY_VARIABLES,
    metrics_errors,
    unknown_query_variables,
)
from kubetune.api.validation.objective import (
    multi_objective_warm_start_errors,
    objective_errors,
)
from kubetune.api.validation.parameters import is_finite_parameter, parameter_errors
from kubetune.api.validation.parts import Parts
from kubetune.api.validation.reuse import initial_trial_errors, warm_start_errors
from kubetune.api.validation.strategy import early_stopping_errors, strategy_errors
from kubetune.api.validation.template import (
    JOB_RESTART_POLICIES,
    PARAM_PLACEHOLDER,
    template_errors,
)

__all__ = [
    "JOB_RESTART_POLICIES",
    "PARAM_PLACEHOLDER",
    "QUERY_VARIABLE",
    "QUERY_VARIABLES",
    "is_finite_parameter",
    "partial_semantic_errors",
    "semantic_errors",
    "unknown_query_variables",
]


def semantic_errors(job: TuningJob) -> list[FieldError]:
    """Every cross-field problem in a structurally valid TuningJob."""
    spec = job.spec
    return [
        *_errors(Parts.of_spec(spec)),
        *initial_trial_errors(spec.parameters, spec.initial_trials, spec.limits.max_trials),
        *warm_start_errors(spec.warm_start),
        *multi_objective_warm_start_errors(spec),
        *constraint_errors(spec.constraints),
        *constrained_metric_errors(spec),
    ]


def partial_semantic_errors(
    manifest: Mapping[str, Any], structural: ValidationError
) -> list[FieldError]:
    """The cross-field problems of a manifest that failed ``structural`` validation, as far as
    they can be told: checks run on the parts of its spec that are valid on their own and skip
    whatever they would read from a part that is not (that part has its structural error)."""
    spec = manifest.get("spec")
    if not isinstance(spec, Mapping):
        return []
    list_broken = any(
        tuple(item["loc"]) == ("spec", "parameters")
        for item in structural.errors(include_url=False)
    )
    return _errors(Parts.of_manifest(spec, list_broken))


def _errors(parts: Parts) -> list[FieldError]:
    return [
        *parameter_errors(parts),
        *objective_errors(parts),
        *strategy_errors(parts),
        *limits_errors(parts),
        *metrics_errors(parts),
        *early_stopping_errors(parts),
        *template_errors(parts),
        *diagnosis_errors(parts),
    ]
