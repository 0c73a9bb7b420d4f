"""The vocabulary of the reconcile core: what the runtime sees, why a TuningJob is done, and the
actions the core asks a backend to carry out. Plain immutable data, no I/O.

The trial vocabulary the study shares (``TrialState``, ``TrialRecord``, ``TrialOutcome``) lives
below both the search and this core, in ``kubetune.trials``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum

from kubetune.api.status import ConditionType, Reason
from kubetune.metrics.logs import MetricSeries, Observation
from kubetune.trials import ParamValue, TrialOutcome


class Phase(StrEnum):
    """A trial's workload (process or Job) as a backend observes it."""

    PENDING = "Pending"
    RUNNING = "Running"
    SUCCEEDED = "Succeeded"
    FAILED = "Failed"

    @property
    def active(self) -> bool:
        return self in (Phase.PENDING, Phase.RUNNING)


@dataclass(frozen=True)
class RuntimeTrial:
    """One trial's workload as observed now."""

    number: int
    phase: Phase
    reason: str | None = None  # e.g. Error, DeadlineExceeded, OOMKilled, Unschedulable
    message: str | None = None
    pending_since: float | None = None  # epoch seconds; set while the workload waits to start
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
class Stop:
    """Stop a trial's workload; record ``outcome`` unless the trial is already recorded."""

    number: int
    outcome: TrialOutcome | None = None


@dataclass(frozen=True)
class Finish:
    """The TuningJob is done."""

    completion: Completion


Action = Suggest | Launch | Report | Record | Stop | Finish
