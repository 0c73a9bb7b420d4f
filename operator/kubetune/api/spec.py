"""The typed ``TuningJob`` spec (``kubetune.io/v1alpha1``), as users write it.

Field names are the API contract (see API.md): camelCase in manifests, snake_case in Python.
Structure (types, enums, bounds, unknown fields) is checked here by pydantic; rules that span
fields (a log scale needs ``min > 0``, grid needs a finite space, ...) live in ``validation``.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel

from kubetune.api.duration import DURATION_PATTERN, parse_duration

API_GROUP = "kubetune.io"
API_VERSION = f"{API_GROUP}/v1alpha1"
KIND = "TuningJob"

PARAMETER_NAME_PATTERN = r"^[A-Za-z_][A-Za-z0-9_]*$"
METRIC_NAME_PATTERN = r"^[A-Za-z_][A-Za-z0-9_.:/-]*$"
# DNS-1123 label: the TuningJob name becomes part of Job names and label values.
RESOURCE_NAME_PATTERN = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"

Direction = Literal["minimize", "maximize"]
ParameterType = Literal["float", "int", "categorical"]
Scale = Literal["linear", "log", "reverseLog"]
Algorithm = Literal["random", "grid", "bayesian", "gp", "cmaes"]
EarlyStoppingAlgorithm = Literal["none", "median", "percentile", "hyperband"]
MetricsSource = Literal["logs", "prometheus"]
LogFormat = Literal["auto", "keyValue", "json", "regex"]
ObjectiveValue = Literal["last", "min", "max"]
Duration = Annotated[str, Field(pattern=DURATION_PATTERN)]
MetricName = Annotated[str, Field(pattern=METRIC_NAME_PATTERN, max_length=128)]
CategoricalValue = str | int | float | bool


class SpecModel(BaseModel):
    """camelCase aliases, unknown fields rejected, immutable once loaded."""

    model_config = ConfigDict(
        alias_generator=to_camel,
        populate_by_name=True,
        extra="forbid",
        frozen=True,
        strict=False,
    )


class Objective(SpecModel):
    metric: MetricName
    direction: Direction
    target: float | None = None
    additional_metrics: list[MetricName] = Field(default_factory=list)

    @property
    def metric_names(self) -> list[str]:
        """The objective first, then every additional metric."""
        return [self.metric, *self.additional_metrics]


class Parameter(SpecModel):
    name: Annotated[str, Field(pattern=PARAMETER_NAME_PATTERN, max_length=64)]
    type: ParameterType
    min: float | None = None
    max: float | None = None
    step: float | None = Field(default=None, gt=0)
    scale: Scale = "linear"
    values: list[CategoricalValue] | None = None


class Strategy(SpecModel):
    algorithm: Algorithm = "bayesian"
    seed: int | None = Field(default=None, ge=0, le=2**32 - 1)
    # Validated per algorithm by kubetune.search.samplers (unknown keys are rejected there).
    settings: dict[str, Any] = Field(default_factory=dict)


class EarlyStopping(SpecModel):
    algorithm: EarlyStoppingAlgorithm = "none"
    start_step: int = Field(default=0, ge=0)
    min_trials: int = Field(default=5, ge=1)
    percentile: float = Field(default=50.0, gt=0, lt=100)
    min_resource: int = Field(default=1, ge=1)
    max_resource: int | None = Field(default=None, ge=1)
    reduction_factor: int = Field(default=3, ge=2)


class Limits(SpecModel):
    max_trials: int | None = Field(default=None, ge=1)
    parallel_trials: int = Field(default=1, ge=1)
    max_failed_trials: int = Field(default=3, ge=0)
    max_runtime: Duration | None = None
    trial_timeout: Duration | None = None
    pending_timeout: Duration | None = None
    stop_after_trials_without_improvement: int | None = Field(default=None, ge=1)

    @property
    def max_runtime_seconds(self) -> float | None:
        return None if self.max_runtime is None else parse_duration(self.max_runtime)

    @property
    def trial_timeout_seconds(self) -> float | None:
        return None if self.trial_timeout is None else parse_duration(self.trial_timeout)

    @property
    def pending_timeout_seconds(self) -> float | None:
        return None if self.pending_timeout is None else parse_duration(self.pending_timeout)


class MetricDefinition(SpecModel):
    name: MetricName
    regex: Annotated[str, Field(min_length=1, max_length=1024)]


class SecretKeyRef(SpecModel):
    name: Annotated[str, Field(min_length=1)]
    key: Annotated[str, Field(min_length=1)]


class PrometheusQuery(SpecModel):
    metric: MetricName
    # PromQL with ${trial.name}, ${trial.number}, ${trial.namespace}, ${trial.pod}, ${tuningjob}.
    query: Annotated[str, Field(min_length=1)]


class PrometheusSource(SpecModel):
    url: Annotated[str, Field(pattern=r"^https?://")] | None = None
    queries: list[PrometheusQuery] = Field(default_factory=list)
    interval: Duration = "15s"
    bearer_token_secret: SecretKeyRef | None = None
    ca_secret: SecretKeyRef | None = None
    insecure_skip_verify: bool = False


class Metrics(SpecModel):
    source: MetricsSource = "logs"
    format: LogFormat = "auto"
    definitions: list[MetricDefinition] = Field(default_factory=list)
    objective_value: ObjectiveValue = "last"
    prometheus: PrometheusSource | None = None


class TemplateMetadata(SpecModel):
    labels: dict[str, str] = Field(default_factory=dict)
    annotations: dict[str, str] = Field(default_factory=dict)


class TrialTemplate(SpecModel):
    primary_container: str | None = None
    metadata: TemplateMetadata = Field(default_factory=TemplateMetadata)
    # A batch/v1 JobSpec kept as data: kubetune only substitutes ${params.NAME} and adds its own
    # labels, env and deadline; everything else reaches the cluster untouched.
    spec: dict[str, Any]


class TuningJobSpec(SpecModel):
    objective: Objective
    parameters: Annotated[list[Parameter], Field(min_length=1, max_length=50)]
    strategy: Strategy = Field(default_factory=Strategy)
    early_stopping: EarlyStopping = Field(default_factory=EarlyStopping)
    limits: Limits = Field(default_factory=Limits)
    metrics: Metrics = Field(default_factory=Metrics)
    trial_template: TrialTemplate


class ObjectMeta(SpecModel):
    # Objects read back from a cluster carry uid, resourceVersion, managedFields and more.
    model_config = ConfigDict(extra="allow")

    name: Annotated[str, Field(pattern=RESOURCE_NAME_PATTERN, max_length=253)]
    namespace: str | None = None
    labels: dict[str, str] = Field(default_factory=dict)
    annotations: dict[str, str] = Field(default_factory=dict)


class TuningJob(SpecModel):
    api_version: Literal["kubetune.io/v1alpha1"]
    kind: Literal["TuningJob"]
    metadata: ObjectMeta
    spec: TuningJobSpec
    # Written by the operator, never read as input; accepted so objects read back validate.
    status: dict[str, Any] | None = None

    @property
    def name(self) -> str:
        return self.metadata.name
