"""Status of a TuningJob, following Kubernetes API conventions.

Conditions carry PascalCase reasons. Exactly one of ``Running``, ``Complete`` and ``Failed``
(``ConditionType``) is True: the state of the study. ``Ready`` and ``Stalled``
(``SummaryConditionType``) summarise it for generic tools; ``SpecAccepted`` and
``MetricsSourceAvailable`` (``AuxiliaryConditionType``) report on one aspect each and never
change the state. Counters and the best trial summarise the study. There is deliberately no
per-trial list: a study of 10,000 trials must not grow this object (the study itself lives in
separate storage).
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel


class ConditionType(StrEnum):
    """The state of the study: exactly one of these conditions is True."""

    RUNNING = "Running"
    COMPLETE = "Complete"
    FAILED = "Failed"


class SummaryConditionType(StrEnum):
    """Summaries of the state in the form kstatus (Flux, kpt, cli-utils) and Argo CD read."""

    READY = "Ready"  # True once Complete; False while running or after a failure
    STALLED = "Stalled"  # present, True, only when Failed


class AuxiliaryConditionType(StrEnum):
    """Conditions about one aspect of a TuningJob, beside (never instead of) its state."""

    # False while the latest edit of a started TuningJob is refused: its study goes on with the
    # spec last accepted. Reasons: Accepted, or InvalidSpec / SearchSpaceChanged.
    SPEC_ACCEPTED = "SpecAccepted"
    # Only with spec.metrics.source prometheus. Reasons: PrometheusAvailable / Unavailable.
    METRICS_SOURCE_AVAILABLE = "MetricsSourceAvailable"
    # Present, False, only while the operator's steps for this TuningJob fail with an error
    # that is not the API's (reason ReconcileError, the error in the message); the study is
    # read back from its journal and retried with backoff. Gone with the next good step.
    RECONCILED = "Reconciled"


class Reason(StrEnum):
    """Why a TuningJob is in its state; each completion rule has its own reason."""

    TRIALS_RUNNING = "TrialsRunning"
    MAX_TRIALS_REACHED = "MaxTrialsReached"
    TARGET_REACHED = "TargetReached"
    MAX_FAILED_TRIALS_EXCEEDED = "MaxFailedTrialsExceeded"
    MAX_RUNTIME_REACHED = "MaxRuntimeReached"
    NO_IMPROVEMENT = "NoImprovement"
    SEARCH_SPACE_EXHAUSTED = "SearchSpaceExhausted"
    INVALID_SPEC = "InvalidSpec"
    SEARCH_SPACE_CHANGED = "SearchSpaceChanged"


class AuxiliaryReason(StrEnum):
    """Reasons of the auxiliary conditions, besides InvalidSpec and SearchSpaceChanged."""

    ACCEPTED = "Accepted"  # SpecAccepted=True: the spec of this generation is in effect
    PROMETHEUS_AVAILABLE = "PrometheusAvailable"
    PROMETHEUS_UNAVAILABLE = "PrometheusUnavailable"
    RECONCILE_ERROR = "ReconcileError"


class TrialReason(StrEnum):
    """Why a trial failed or was cut short."""

    ERROR = "Error"
    DEADLINE_EXCEEDED = "DeadlineExceeded"
    METRICS_UNAVAILABLE = "MetricsUnavailable"
    OOM_KILLED = "OOMKilled"
    EVICTED = "Evicted"
    PENDING_TIMEOUT = "PendingTimeout"
    QUEUE_TIMEOUT = "QueueTimeout"
    # Infrastructure interruptions, when maxTrialRetries does not allow another run:
    PREEMPTED = "Preempted"  # scheduler preemption (PreemptionByScheduler)
    NODE_LOST = "NodeLost"  # the node went NotReady/unreachable or away (taint manager, PodGC)
    STOPPED = "Stopped"
    PRUNED = "Pruned"
    LAUNCH_FAILED = "LaunchFailed"


class StatusModel(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, frozen=True)

    def to_dict(self) -> dict[str, Any]:
        return self.model_dump(mode="json", by_alias=True, exclude_none=True)


class TrialCounts(StatusModel):
    active: int = 0
    queued: int = 0
    succeeded: int = 0
    infeasible: int | None = None  # with spec.constraints only
    failed: int = 0
    pruned: int = 0
    retried: int = 0
    total: int = 0


class DiagnosisVerdict(StrEnum):
    """What the bias/variance diagnosis of the best trial found (spec.diagnosis)."""

    OK = "ok"
    HIGH_BIAS = "highBias"
    HIGH_VARIANCE = "highVariance"
    BOTH = "both"
    TRAIN_TEST_MISMATCH = "trainTestMismatch"
    UNKNOWN = "unknown"


class DiagnosisStatus(StatusModel):
    verdict: DiagnosisVerdict
    message: str
    trial: int | None = None


class BestTrial(StatusModel):
    name: str
    number: int
    parameters: dict[str, Any]
    objective: float
    metrics: dict[str, float] = Field(default_factory=dict)
    job_name: str | None = None


MAX_PARETO_FRONT = 20
"""At most this many trials of the Pareto front are listed in ``status.paretoFront``."""


class ParetoTrial(StatusModel):
    """A trial of the Pareto front of a multi-objective TuningJob (``status.paretoFront``)."""

    name: str
    number: int
    objectives: dict[str, float]
    parameters: dict[str, Any]
