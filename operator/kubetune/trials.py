"""The trial vocabulary shared by the search and the reconcile core: a trial's state, its record
in the study and the outcome it is told with. Plain immutable data, no I/O.

It sits below both ``kubetune.search`` (the study stores and reads these) and
``kubetune.controller`` (the reconcile core decides them), so neither imports the other for it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum

from kubetune.api.spec import CategoricalValue
from kubetune.metrics.logs import Observation

ParamValue = CategoricalValue
"""A parameter's value as a trial holds it: what the search suggested, decoded."""


class TrialState(StrEnum):
    """A trial as the study records it."""

    RUNNING = "Running"  # suggested; its workload may or may not exist yet
    COMPLETE = "Complete"
    FAILED = "Failed"
    PRUNED = "Pruned"

    @property
    def finished(self) -> bool:
        return self is not TrialState.RUNNING


@dataclass(frozen=True)
class TrialRecord:
    """One trial of the study."""

    number: int
    state: TrialState
    params: Mapping[str, ParamValue]
    objective: float | None = None  # single-objective only (None in a multi-objective study)
    metrics: Mapping[str, float] = field(default_factory=dict)
    reason: str | None = None
    message: str | None = None
    intermediate: Mapping[int, float] = field(default_factory=dict)  # step → objective value
    # Infrastructure interruptions the trial lived through (eviction, preemption, node loss),
    # journaled once each: what interrupted it (a pod's or Job's uid) -> what happened.
    interruptions: Mapping[str, str] = field(default_factory=dict)
    # Multi-objective: the value of each of spec.objectives, in order, once the trial has them
    # (``objective`` holds the one value of a single-objective study; this stays None there).
    values: tuple[float, ...] | None = None


@dataclass(frozen=True)
class TrialOutcome:
    """How a trial ended, as it will be told to the study."""

    state: TrialState
    objective: float | None = None
    metrics: Mapping[str, float] = field(default_factory=dict)
    reason: str | None = None
    message: str | None = None
    intermediate: tuple[Observation, ...] = ()
    # Multi-objective: the value of each of spec.objectives (``objective`` stays None).
    values: tuple[float, ...] | None = None
