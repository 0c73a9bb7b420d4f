"""The vocabulary of the reconcile core: what the runtime sees, why a TuningJob is done, and the
actions the core asks a backend to carry out. Plain immutable data, no I/O.

The trial vocabulary the study shares (``TrialState``, ``TrialRecord``, ``TrialOutcome``) lives
below both the search and this core, in ``kubetune.trials``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum

from kubetune.api.status import ConditionType, Reason
from kubetune.metrics.logs import MetricSeries, Observation
from kubetune.trials import ParamValue, TrialOutcome


class Phase(StrEnum):
    """A trial's workload (process or Job) as a backend observes it."""

    QUEUED = "Queued"  # suspended (Kueue, a user, created suspended): not runnable yet
    PENDING = "Pending"
    RUNNING = "Running"
    SUCCEEDED = "Succeeded"
    FAILED = "Failed"

    @property
    def active(self) -> bool:
        return self in (Phase.QUEUED, Phase.PENDING, Phase.RUNNING)


@dataclass(frozen=True)
class RuntimeTrial:
    """One trial's workload as observed now."""

    number: int
    phase: Phase
    reason: str | None = None  # e.g. Error, DeadlineExceeded, OOMKilled, Unschedulable
    message: str | None = None
    # Epoch seconds, set while the workload waits to start: since when it last became runnable
    # and unscheduled (created, resumed from a queue, or its pod replaced).
    pending_since: float | None = None
    queued_since: float | None = None  # epoch seconds; set while the workload is queued
    # Infrastructure interruptions seen so far: what was interrupted (a pod's uid) -> what
    # happened. A disrupted pod the Job replaced itself appears here while the trial goes on.
    interruptions: Mapping[str, str] = field(default_factory=dict)
    # Set on a FAILED workload that an interruption ended (the whole Job was lost): the trial
    # may run again. Its key is in ``interruptions``.
    interrupted: bool = False
    # What it reported: complete once it has finished; while it runs, what it reported so far
    # (backends that follow a running trial's metrics fill it in, for early stopping).
    metrics: MetricSeries | None = None


@dataclass(frozen=True)
class Completion:
    """Why a TuningJob is done: the rule that fired, as a condition."""

    type: ConditionType
    reason: Reason
    message: str
    stops_running_trials: bool = False


@dataclass(frozen=True)
class Suggest:
    """Ask the search for ``count`` new trials (they are stored before anything launches)."""

    count: int


@dataclass(frozen=True)
class Launch:
    """Start the workload of a suggested trial (idempotent: named after the trial number)."""

    number: int
    params: Mapping[str, ParamValue]


@dataclass(frozen=True)
class Record:
    """Tell the study how a trial ended."""

    number: int
    outcome: TrialOutcome


@dataclass(frozen=True)
class Report:
    """Store a running trial's new intermediate objective values in the study."""

    number: int
    observations: tuple[Observation, ...]


@dataclass(frozen=True)
class Retry:
    """Journal interruptions of a running trial (once each); with ``relaunch``, its workload
    was lost to one: stop what is left of it, so that the trial is launched again (same number,
    same parameters) once it is gone."""

    number: int
    interruptions: Mapping[str, str]
    relaunch: bool = False


@dataclass(frozen=True)
class Stop:
    """Stop a trial's workload; record ``outcome`` unless the trial is already recorded."""

    number: int
    outcome: TrialOutcome | None = None


@dataclass(frozen=True)
class Finish:
    """The TuningJob is done."""

    completion: Completion


Action = Suggest | Launch | Report | Record | Retry | Stop | Finish
