"""The tuning loop's driver: reads the study and the runtime, runs the pure reconcile step,
and carries out its actions through a backend. Both backends use exactly this."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field
from typing import Protocol

from kubetune.api.spec import TuningJob
from kubetune.controller.model import (
    Action,
    Completion,
    Finish,
    Launch,
    Record,
    Report,
    Retry,
    RuntimeTrial,
    Stop,
    Suggest,
)
from kubetune.controller.reconcile import reconcile
from kubetune.search.study import TuningStudy
from kubetune.trials import ParamValue, TrialRecord, TrialState

log = logging.getLogger(__name__)

# A pass that suggests trials is followed by one that launches them, one that reports new
# intermediate values by one that applies the pruner's verdicts; never loop forever.
MAX_PASSES = 5


def _changes_study(action: Action) -> bool:
    """Whether another pass may find more to do after ``action`` (a relaunch waits for the
    watch to show the old workload gone, so it alone does not count)."""
    if isinstance(action, Retry):
        return bool(action.interruptions)
    return isinstance(action, Suggest | Report | Record | Stop)


class TrialBackend(Protocol):
    """Where trials run: local processes or Kubernetes Jobs."""

    def observe(self, running: Collection[int]) -> Mapping[int, RuntimeTrial]:
        """The workloads of the ``running`` trials, and any other workload still active.

        Finished workloads of trials the study has recorded may be left out: a backend need
        not read their results again. A running workload's ``metrics`` are what it reported so
        far, when the backend follows them (early stopping needs them).
        """

    def launch(self, number: int, params: Mapping[str, ParamValue]) -> None:
        """Start a trial's workload; starting one that exists already is not an error."""

    def stop(self, number: int) -> None:
        """Stop a trial's workload if it still runs."""


@dataclass
class StepResult:
    actions: list[Action] = field(default_factory=list)
    completion: Completion | None = None
    trials: list[TrialRecord] = field(default_factory=list)
    suggestion_seconds: list[float] = field(default_factory=list)  # per suggested trial


class Tuner:
    def __init__(
        self,
        job: TuningJob,
        study: TuningStudy,
        backend: TrialBackend,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.job = job
        self.study = study
        self.backend = backend
        self.clock = clock

    def step(self) -> StepResult:
        """Reconcile until nothing is left to do right now."""
        result = StepResult()
        for _ in range(MAX_PASSES):
            trials = self.study.records()
            running = {t.number for t in trials if t.state is TrialState.RUNNING}
            observed = self.backend.observe(running)
            prunable: set[int] = set()
            if self.job.spec.early_stopping.algorithm != "none":
                self.study.set_early_stopping(self.job.spec.early_stopping)
                prunable = self.study.prunable(
                    {t.number for t in trials if t.state is TrialState.RUNNING and t.intermediate}
                )
            actions = reconcile(
                self.job.spec, trials, observed, self.study.started_at, self.clock(), prunable
            )
            result.actions.extend(actions)
            result.trials = trials
            to_stop: list[int] = []
            for action in actions:
                if isinstance(action, Launch):
                    # A trial's workload must never exist without its parameters stored.
                    self.study.flush()
                self._apply(action, result, to_stop)
            if to_stop:
                # Nor may a workload go before its trial's outcome is stored: a restart would
                # see a running trial with no workload and launch it again.
                self.study.flush()
                for number in to_stop:
                    self.backend.stop(number)
            if not any(_changes_study(a) for a in actions):
                break
        self.study.flush()
        return result

    def _apply(self, action: Action, result: StepResult, to_stop: list[int]) -> None:
        match action:
            case Suggest(count):
                began = time.perf_counter()
                self.study.ask(count)
                each = (time.perf_counter() - began) / count
                result.suggestion_seconds.extend([each] * count)
            case Report(number, observations):
                self.study.report(number, observations)
            case Launch(number, params):
                log.debug("launching trial %d with %s", number, dict(params))
                self.backend.launch(number, params)
            case Record(number, outcome):
                self.study.tell(number, outcome)
            case Retry(number, interruptions, relaunch):
                if interruptions:
                    log.info(
                        "trial %d was interrupted: %s", number, "; ".join(interruptions.values())
                    )
                    self.study.note_interruptions(number, interruptions)
                if relaunch:
                    # Journaled first (the flush before stopping): a restart must count this
                    # interruption once, and find the trial running with its Job gone.
                    to_stop.append(number)
            case Stop(number, outcome):
                if outcome is not None and outcome.state is TrialState.PRUNED:
                    log.info("stopping trial %d: %s", number, outcome.message)
                if outcome is not None:
                    self.study.tell(number, outcome)
                to_stop.append(number)
            case Finish(completion):
                result.completion = completion
