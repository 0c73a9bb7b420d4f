"""The typed ``TuningJob`` spec (``kubetune.io/v1alpha1``), as users write it.

Field names are the API contract (see API.md): camelCase in manifests, snake_case in Python.
Structure (types, enums, bounds, unknown fields) is checked here by pydantic; rules that span
fields (a log scale needs ``min > 0``, grid needs a finite space, ...) live in ``validation``.

Every field carries a ``description``: ``kubetune.api.crd`` turns these models into the CRD, so
the descriptions are what ``kubectl explain tuningjob.spec...`` shows. Write them for users:
units, defaults and allowed values.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel

from kubetune.api.duration import DURATION_PATTERN, parse_duration

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

_DURATION_HELP = (
    "A duration: a number with unit s, m or h, parts may be combined (90s, 30m, 1h30m)."
)
_METRIC_NAME_HELP = (
    "Starts with a letter or underscore, then letters, digits and _ . : / - (at most 128)."
)


class SpecModel(BaseModel):
    """camelCase aliases, unknown fields rejected, immutable once loaded."""

    model_config = ConfigDict(
        alias_generator=to_camel,
        populate_by_name=False,
        extra="forbid",
        frozen=True,
        strict=True,
    )


class Objective(SpecModel):
    """The metric the search optimizes, and which way."""

    metric: MetricName = Field(
        description=(
            "Name of the metric to optimize, as the trial reports it (for example "
            f"validation-rmse). {_METRIC_NAME_HELP}"
        )
    )
    direction: Direction = Field(
        description="Whether lower or higher values of the metric are better: minimize or maximize."
    )
    target: float | None = Field(
        default=None,
        description=(
            "Optional goal for the metric. Once a trial reaches it (at or below for minimize, at "
            "or above for maximize) the TuningJob completes with reason TargetReached. Unset: no "
            "target, the TuningJob runs until another limit ends it."
        ),
    )
    additional_metrics: list[MetricName] = Field(
        default_factory=list,
        description=(
            "Further metrics to record for every trial (shown in reports and status), not "
            "optimized. Default: none. Each must differ from metric and from each other."
        ),
    )

    @property
    def metric_names(self) -> list[str]:
        """The objective first, then every additional metric."""
        return [self.metric, *self.additional_metrics]


class Parameter(SpecModel):
    """One dimension of the search space: a numeric range or a list of categorical values."""

    name: Annotated[str, Field(pattern=PARAMETER_NAME_PATTERN, max_length=64)] = Field(
        description=(
            "Parameter name, unique within the TuningJob: a letter or underscore, then letters, "
            "digits or underscores (at most 64). Referenced as ${params.NAME} in trialTemplate "
            "and passed to trials in KUBETUNE_PARAMS."
        )
    )
    type: ParameterType = Field(
        description=(
            "float (a real number in [min, max]), int (a whole number in [min, max]) or "
            "categorical (one of values)."
        )
    )
    min: float | None = Field(
        default=None,
        description=(
            "Lower bound, inclusive. Required for float and int (a whole number for int), not "
            "allowed for categorical. Must be less than max; greater than 0 for scale log."
        ),
    )
    max: float | None = Field(
        default=None,
        description=(
            "Upper bound, inclusive. Required for float and int (a whole number for int), not "
            "allowed for categorical. Must be greater than min; below 1 for scale reverseLog."
        ),
    )
    step: float | None = Field(
        default=None,
        gt=0,
        description=(
            "Optional spacing of the values tried: min, min+step, min+2*step, ... up to max. "
            "Greater than 0 and at most max - min; a whole number for int. Unset: any value "
            "(float) or every whole number (int). Grid search needs it on float parameters. Not "
            "allowed for categorical, nor with scale reverseLog (log: only 1 for int)."
        ),
    )
    scale: Scale = Field(
        default="linear",
        description=(
            "How values are spread between min and max: linear (uniform, the default), log "
            "(uniform in log space, for rates; needs min > 0) or reverseLog (dense near 1, for "
            "values such as momentum; float only, needs 0 <= min < max < 1). Not allowed for "
            "categorical."
        ),
    )
    values: list[CategoricalValue] | None = Field(
        default=None,
        description=(
            "The choices of a categorical parameter: strings, numbers or booleans, at least one, "
            "no duplicates. Required for categorical, not allowed for float and int."
        ),
    )


class Strategy(SpecModel):
    """How the next trial's parameters are chosen."""

    algorithm: Algorithm = Field(
        default="bayesian",
        description=(
            "Search algorithm: random (uniform sampling), grid (every combination, in a shuffled "
            "order; needs a finite space), bayesian (the default: a Gaussian process while trials "
            "are few and the space mostly numeric, TPE otherwise), gp (Gaussian process only) "
            "or cmaes (CMA-ES, for numeric parameters)."
        ),
    )
    seed: int | None = Field(
        default=None,
        ge=0,
        le=2**32 - 1,
        description=(
            "Random seed (0 to 4294967295) so that the same spec suggests the same parameters. "
            "Unset: a different sequence on every run."
        ),
    )
    # Validated per algorithm by kubetune.search.samplers (unknown keys are rejected there).
    settings: dict[str, Any] = Field(
        default_factory=dict,
        description=(
            "Options of the chosen algorithm, as camelCase keys. Unknown keys are rejected: the "
            "operator reports them in an InvalidSpec condition. Default: no settings."
        ),
    )


class EarlyStopping(SpecModel):
    """Stop unpromising trials early, from the intermediate values they report."""

    algorithm: EarlyStoppingAlgorithm = Field(
        default="none",
        description=(
            "none (the default: every trial runs to the end), median (stop a trial whose value "
            "at a step is worse than the median of earlier trials at that step), percentile "
            "(like median with a chosen percentile) or hyperband."
        ),
    )
    start_step: int = Field(
        default=0,
        ge=0,
        description=(
            "median and percentile: steps a trial reports before it can be stopped. Default 0."
        ),
    )
    min_trials: int = Field(
        default=5,
        ge=1,
        description=(
            "median and percentile: trials that must have reported a step before a trial is "
            "compared there. Default 5."
        ),
    )
    percentile: float = Field(
        default=50.0,
        gt=0,
        lt=100,
        description=(
            "percentile: keep a trial only while its value is within the best percentile "
            "percent of earlier trials at the same step (50 is the median rule); between 0 and "
            "100, both exclusive. Default 50."
        ),
    )
    min_resource: int = Field(
        default=1,
        ge=1,
        description="hyperband: the smallest number of steps a trial runs. Default 1.",
    )
    max_resource: int | None = Field(
        default=None,
        ge=1,
        description=(
            "hyperband: the most steps a trial runs; greater than minResource. Unset: estimated "
            "from the first trial that finishes."
        ),
    )
    reduction_factor: int = Field(
        default=3,
        ge=2,
        description="hyperband: 1 in reductionFactor trials goes on to each next rung. Default 3.",
    )


class Limits(SpecModel):
    """When the TuningJob ends, and how much runs at once."""

    max_trials: int | None = Field(
        default=None,
        ge=1,
        description=(
            "How many trials to run in total (failed and stopped trials count). Required unless "
            "strategy.algorithm is grid, where it defaults to the grid size. At least 1."
        ),
    )
    parallel_trials: int = Field(
        default=1,
        ge=1,
        description="How many trials run at the same time. At least 1; default 1.",
    )
    max_failed_trials: int = Field(
        default=3,
        ge=0,
        description=(
            "How many trials may fail before the TuningJob fails with reason "
            "MaxFailedTrialsExceeded (failing one more than this ends it). 0 or more; default 3."
        ),
    )
    max_runtime: Duration | None = Field(
        default=None,
        description=(
            "Longest time the whole TuningJob may run; it then completes with reason "
            f"MaxRuntimeReached. {_DURATION_HELP} Unset: no limit."
        ),
    )
    trial_timeout: Duration | None = Field(
        default=None,
        description=(
            "Longest time one trial may run (set as the trial Job's activeDeadlineSeconds); "
            f"it then fails with reason DeadlineExceeded. {_DURATION_HELP} Unset: no limit."
        ),
    )
    pending_timeout: Duration | None = Field(
        default=None,
        description=(
            "Longest time a trial's pod may wait to be scheduled; it then fails with reason "
            f"PendingTimeout. {_DURATION_HELP} Unset: trials wait indefinitely."
        ),
    )
    stop_after_trials_without_improvement: int | None = Field(
        default=None,
        ge=1,
        description=(
            "Complete with reason NoImprovement once this many trials in a row finished without "
            "improving on the best objective. At least 1. Unset: never."
        ),
    )

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
    """A regular expression that finds one metric's values in a trial's log lines."""

    name: MetricName = Field(
        description=f"The metric this expression reports, unique. {_METRIC_NAME_HELP}"
    )
    regex: Annotated[str, Field(min_length=1, max_length=1024)] = Field(
        description=(
            "A regular expression (Python syntax, at most 1024 characters) with exactly one "
            "capture group around the number, for example 'validation-rmse:([-+0-9.eE]+)'. It is "
            "searched in every log line."
        )
    )


class SecretKeyRef(SpecModel):
    """A key of a Secret in the TuningJob's namespace."""

    name: Annotated[str, Field(min_length=1)] = Field(description="Name of the Secret.")
    key: Annotated[str, Field(min_length=1)] = Field(description="Key within the Secret's data.")


class PrometheusQuery(SpecModel):
    """The PromQL query that yields one metric of a trial."""

    metric: MetricName = Field(description=f"The metric this query reports. {_METRIC_NAME_HELP}")
    # PromQL with ${trial.name}, ${trial.number}, ${trial.namespace}, ${trial.pod}, ${tuningjob}.
    query: Annotated[str, Field(min_length=1)] = Field(
        description=(
            "A PromQL instant query returning one value. ${trial.name}, ${trial.number}, "
            "${trial.namespace}, ${trial.pod} and ${tuningjob} are replaced per trial."
        )
    )


class PrometheusSource(SpecModel):
    """Where and how to read metrics from Prometheus (for metrics.source prometheus)."""

    url: Annotated[str, Field(pattern=r"^https?://")] | None = Field(
        default=None,
        description=(
            "Base URL of the Prometheus HTTP API, starting with http:// or https:// (for example "
            "http://prometheus.monitoring:9090)."
        ),
    )
    queries: list[PrometheusQuery] = Field(
        default_factory=list,
        description=(
            "One query per metric; the objective metric and every additional metric need one. "
            "Default: none."
        ),
    )
    interval: Duration = Field(
        default="15s",
        description=f"How often running trials are queried. {_DURATION_HELP} Default 15s.",
    )
    bearer_token_secret: SecretKeyRef | None = Field(
        default=None,
        description="Secret key holding a bearer token sent to Prometheus. Unset: no token.",
    )
    ca_secret: SecretKeyRef | None = Field(
        default=None,
        description=(
            "Secret key holding a PEM CA bundle that signs Prometheus' TLS certificate. Unset: "
            "the system's trusted CAs."
        ),
    )
    insecure_skip_verify: bool = Field(
        default=False,
        description="Skip TLS certificate verification (testing only). Default false.",
    )


class Metrics(SpecModel):
    """How trial metrics are collected and turned into the objective value."""

    source: MetricsSource = Field(
        default="logs",
        description=(
            "Where metrics come from: logs (the primary container's output, the default) or "
            "prometheus (queries in metrics.prometheus)."
        ),
    )
    format: LogFormat = Field(
        default="auto",
        description=(
            "How log lines are parsed (source logs): auto (the default: name=value pairs and "
            "JSON-object lines), keyValue (name=value only), json (JSON-object lines only) or "
            "regex (the expressions in definitions)."
        ),
    )
    definitions: list[MetricDefinition] = Field(
        default_factory=list,
        description=(
            "Regular expressions that extract metrics from log lines, names unique. In every "
            "format a definition takes precedence for its metric; format regex needs one for the "
            "objective metric and each additional metric. Default: none."
        ),
    )
    objective_value: ObjectiveValue = Field(
        default="last",
        description=(
            "Which of a trial's reported values is its result: last (the default), min or max."
        ),
    )
    prometheus: PrometheusSource | None = Field(
        default=None,
        description="Prometheus connection and queries; required for source prometheus.",
    )


class TemplateMetadata(SpecModel):
    """Labels and annotations copied onto every trial Job."""

    labels: dict[str, str] = Field(
        default_factory=dict,
        description=(
            "Labels added to each trial Job (kubetune adds kubetune.io/tuningjob and "
            "kubetune.io/trial itself). Default: none."
        ),
    )
    annotations: dict[str, str] = Field(
        default_factory=dict, description="Annotations added to each trial Job. Default: none."
    )


class TrialTemplate(SpecModel):
    """The Job each trial runs as."""

    primary_container: str | None = Field(
        default=None,
        description=(
            "Name of the container that runs the training and whose logs hold the metrics. "
            "Unset: the first container."
        ),
    )
    metadata: TemplateMetadata = Field(
        default_factory=TemplateMetadata,
        description="Labels and annotations copied onto each trial Job.",
    )
    # A batch/v1 JobSpec kept as data: kubetune only substitutes ${params.NAME} and adds its own
    # labels, env and deadline; everything else reaches the cluster untouched.
    spec: dict[str, Any] = Field(
        description=(
            "A batch/v1 JobSpec for each trial. Every ${params.NAME} in a string is replaced by "
            "the trial's value of parameter NAME. kubetune adds its labels, the KUBETUNE_* "
            "environment variables and the trial deadline; the rest is passed on unchanged. "
            "template.spec needs at least one container; restartPolicy must be Never or "
            "OnFailure."
        )
    )


class TuningJobSpec(SpecModel):
    """What to tune, how to search, and when to stop."""

    objective: Objective = Field(description="The metric to optimize and its direction.")
    parameters: Annotated[list[Parameter], Field(min_length=1, max_length=50)] = Field(
        description="The search space: 1 to 50 parameters with unique names."
    )
    strategy: Strategy = Field(
        default_factory=Strategy,
        description="The search algorithm and its options. Default: bayesian.",
    )
    early_stopping: EarlyStopping = Field(
        default_factory=EarlyStopping,
        description="Stopping unpromising trials early. Default: none.",
    )
    limits: Limits = Field(
        default_factory=Limits,
        description=(
            "Trial counts, parallelism and timeouts. maxTrials is required unless the strategy "
            "is grid."
        ),
    )
    metrics: Metrics = Field(
        default_factory=Metrics,
        description="How trial metrics are collected. Default: parsed from the trial's logs.",
    )
    trial_template: TrialTemplate = Field(
        description="The Job that runs one trial, with ${params.NAME} placeholders."
    )


class ObjectMeta(SpecModel):
    """The TuningJob's name, namespace, labels and annotations."""

    # Objects read back from a cluster carry uid, resourceVersion, managedFields and more.
    model_config = ConfigDict(extra="allow")

    name: Annotated[str, Field(pattern=RESOURCE_NAME_PATTERN, max_length=253)] = Field(
        description=(
            "Name of the TuningJob: lower-case letters, digits and '-', starting and ending "
            "with a letter or digit. Trial Jobs are named <name>-<number> (shortened with a "
            "hash when longer than 63 characters)."
        )
    )
    namespace: str | None = Field(
        default=None, description="Namespace; trial Jobs run in the same namespace."
    )
    labels: dict[str, str] = Field(default_factory=dict, description="Labels of the TuningJob.")
    annotations: dict[str, str] = Field(
        default_factory=dict, description="Annotations of the TuningJob."
    )


class TuningJob(SpecModel):
    """A hyperparameter search: trials run as Jobs until a limit or the target is reached."""

    api_version: Literal["kubetune.io/v1alpha1"] = Field(description="kubetune.io/v1alpha1")
    kind: Literal["TuningJob"] = Field(description="TuningJob")
    metadata: ObjectMeta = Field(description="Standard object metadata.")
    spec: TuningJobSpec = Field(description="What to tune, how to search, and when to stop.")
    # Written by the operator, never read as input; accepted so objects read back validate.
    status: dict[str, Any] | None = Field(
        default=None, description="Progress of the search, written by the operator."
    )

    @property
    def name(self) -> str:
        return self.metadata.name
