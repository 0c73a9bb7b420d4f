"""The typed ``TuningJob`` spec (``kubetune.io/v1alpha1``), as users write it.

Field names are the API contract (see API.md): camelCase in manifests, snake_case in Python.
Structure (types, enums, bounds, unknown fields) is checked here by pydantic; rules that span
fields (a log scale needs ``min > 0``, grid needs a finite space, ...) live in ``validation``.

One module per part of the spec (``objective``, ``parameters``, ``strategy`` with early
stopping, ``limits``, ``metrics``, ``template``, ``reuse`` for initial trials and warm start),
assembled in ``tuningjob``; ``base`` holds the model class and the rules they share. A new
field goes in the module of its part; this package re-exports every model.

Every field carries a ``description``: ``kubetune.api.crd`` turns these models into the CRD, so
the descriptions are what ``kubectl explain tuningjob.spec...`` shows. Write them for users:
units, defaults and allowed values.
"""

from kubetune.api.spec.base import (
    DURATION_HELP,
    METRIC_NAME_HELP,
    METRIC_NAME_PATTERN,
    RESOURCE_NAME_PATTERN,
    Duration,
    MetricName,
    SpecModel,
)
from kubetune.api.spec.constraints import Constraint, is_feasible, violations
from kubetune.api.spec.diagnosis import (
    Diagnosis,
    DiagnosisThresholds,
)
from kubetune.api.spec.limits import (
    Limits,
)
from kubetune.api.spec.metrics import (
    LogFormat,
    MetricDefinition,
    Metrics,
    MetricsSource,
    ObjectiveValue,
    PrometheusQuery,
    PrometheusSource,
    SecretKeyRef,
)
from kubetune.api.spec.objective import (
    MAX_OBJECTIVES,
    MIN_OBJECTIVES,
    Direction,
    Objective,
    ObjectiveTerm,
)
from kubetune.api.spec.parameters import (
    PARAMETER_NAME_PATTERN,
    CategoricalValue,
    Parameter,
    ParameterType,
    Scale,
)
from kubetune.api.spec.reuse import (
    MAX_WARM_START_PARENTS,
    InitialTrial,
    WarmStart,
    WarmStartParent,
    WarmStartType,
)
from kubetune.api.spec.strategy import (
    Algorithm,
    EarlyStopping,
    EarlyStoppingAlgorithm,
    Strategy,
)
from kubetune.api.spec.template import (
    PrimaryPod,
    TemplateMetadata,
    TrialTemplate,
)
from kubetune.api.spec.tuningjob import (
    ObjectMeta,
    TuningJob,
    TuningJobSpec,
)

__all__ = [
    "DURATION_HELP",
    "MAX_OBJECTIVES",
    "MAX_WARM_START_PARENTS",
    "METRIC_NAME_HELP",
    "METRIC_NAME_PATTERN",
    "MIN_OBJECTIVES",
    "PARAMETER_NAME_PATTERN",
    "RESOURCE_NAME_PATTERN",
    "Algorithm",
    "CategoricalValue",
    "Constraint",
    "Diagnosis",
    "DiagnosisThresholds",
    "Direction",
    "Duration",
    "EarlyStopping",
    "EarlyStoppingAlgorithm",
    "InitialTrial",
    "Limits",
    "LogFormat",
    "MetricDefinition",
    "MetricName",
    "Metrics",
    "MetricsSource",
    "ObjectMeta",
    "Objective",
    "ObjectiveTerm",
    "ObjectiveValue",
    "Parameter",
    "ParameterType",
    "PrimaryPod",
    "PrometheusQuery",
    "PrometheusSource",
    "Scale",
    "SecretKeyRef",
    "SpecModel",
    "Strategy",
    "TemplateMetadata",
    "TrialTemplate",
    "TuningJob",
    "TuningJobSpec",
    "WarmStart",
    "WarmStartParent",
    "WarmStartType",
    "is_feasible",
    "violations",
]
