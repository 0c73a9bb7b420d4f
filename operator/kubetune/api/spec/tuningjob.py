"""The TuningJob object and its spec, assembled from the parts in this package."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import ConfigDict, Field

from kubetune.api.spec.base import (
    RESOURCE_NAME_PATTERN,
    SpecModel,
)
from kubetune.api.spec.constraints import Constraint
from kubetune.api.spec.diagnosis import Diagnosis
from kubetune.api.spec.limits import Limits
from kubetune.api.spec.metrics import Metrics
from kubetune.api.spec.objective import MAX_OBJECTIVES, Direction, Objective, ObjectiveTerm
from kubetune.api.spec.parameters import Parameter
from kubetune.api.spec.reuse import InitialTrial, WarmStart
from kubetune.api.spec.strategy import EarlyStopping, Strategy
from kubetune.api.spec.template import TrialTemplate


class TuningJobSpec(SpecModel):
    """What to tune, how to search, and when to stop."""

    objective: Objective | None = Field(
        default=None,
        description=(
            "The metric to optimize and its direction. Exactly one of objective and objectives "
            "is required."
        ),
    )
    objectives: list[ObjectiveTerm] | None = Field(
        default=None,
        max_length=MAX_OBJECTIVES,
        description=(
            "Instead of objective: 2 to 4 metrics optimized together (a multi-objective "
            "search). There is no single best trial: status.paretoFront lists the trials no "
            "other trial beats on every objective, and status.bestTrial is absent. Needs "
            "earlyStopping none and no diagnosis; objective.target and additionalMetrics "
            "have no counterpart (constraints are recorded like additional metrics)."
        ),
    )
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
    constraints: list[Constraint] = Field(
        default_factory=list,
        description=(
            "Bounds on reported metrics, for example {metric: gpu-memory-gb, max: 40}. A trial "
            "whose metric is outside a bound is infeasible: recorded with its results, never "
            "the bestTrial (nor the trial that reaches objective.target), and the search is "
            "steered away from its region. A trial that does not report a constrained metric "
            "fails with reason MetricsUnavailable. Metrics unique. Default: none."
        ),
    )
    initial_trials: list[InitialTrial] = Field(
        default_factory=list,
        description=(
            "Parameter values to evaluate first, in this order, before the strategy suggests "
            "any: known-good baselines, a colleague's best configuration. Each entry maps every "
            "parameter name to a value inside its range (or among its values), checked when the "
            "manifest is loaded. They count towards limits.maxTrials and are enqueued once, "
            "when the study is created: editing the list later changes nothing. Default: none."
        ),
    )
    warm_start: WarmStart | None = Field(
        default=None,
        description=(
            "Seed the study with the completed trials of 1 to 5 parent TuningJobs before its "
            "first suggestion, so the search starts informed. Parent trials are never this "
            "job's trials: they do not count towards maxTrials and are never its bestTrial; "
            "status.warmStartTrials says how many were loaded. Unset: a cold start."
        ),
    )
    diagnosis: Diagnosis | None = Field(
        default=None,
        description=(
            "Optional: the bias/variance diagnosis of the best trial (high bias, high "
            "variance, both, train/test mismatch) in reports and status.diagnosis, from the "
            "train (and test) metrics among objective.additionalMetrics."
        ),
    )

    @property
    def terms(self) -> list[ObjectiveTerm]:
        """What the search optimizes: the objective, or each of the objectives, in order."""
        if self.objectives:
            return list(self.objectives)
        if self.objective is None:  # only before validation, which requires one of them
            return []
        return [ObjectiveTerm(metric=self.objective.metric, direction=self.objective.direction)]

    @property
    def multi_objective(self) -> bool:
        return bool(self.objectives)

    @property
    def objective_metrics(self) -> list[str]:
        """The optimized metrics, in order (one unless multi-objective)."""
        return [term.metric for term in self.terms]

    @property
    def directions(self) -> list[Direction]:
        return [term.direction for term in self.terms]

    @property
    def objective_summary(self) -> str:
        """``minimize val-loss`` or, multi-objective, ``minimize val-loss, maximize acc``."""
        return ", ".join(f"{term.direction} {term.metric}" for term in self.terms)

    @property
    def metric_names(self) -> list[str]:
        """The optimized metrics, then every additional metric."""
        if self.objective is not None and not self.objectives:
            return self.objective.metric_names
        return self.objective_metrics

    @property
    def recorded_metrics(self) -> list[str]:
        """Every metric a trial's results hold: the objective(s), the additional metrics, then
        the constrained ones not among them."""
        names = self.metric_names
        return names + [c.metric for c in self.constraints if c.metric not in names]


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
