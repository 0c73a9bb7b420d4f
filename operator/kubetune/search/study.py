"""The study behind a TuningJob: Optuna storage seen as trial records.

The study is the durable state of a tuning run. Everything the reconcile core needs is read
back from it (trials, parameters, results, start time), so a process that dies loses nothing.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from typing import Any

import optuna
from optuna.trial import FrozenTrial
from optuna.trial import TrialState as OptunaState

from kubetune.api.spec import TuningJob
from kubetune.controller.model import TrialOutcome, TrialRecord, TrialState
from kubetune.search.samplers import build_sampler
from kubetune.search.space import SearchSpace

ATTR_STARTED_AT = "kubetune.startedAt"
ATTR_SPACE = "kubetune.searchSpace"
ATTR_METRICS = "kubetune.metrics"
ATTR_REASON = "kubetune.reason"
ATTR_MESSAGE = "kubetune.message"

_STATES = {
    OptunaState.RUNNING: TrialState.RUNNING,
    OptunaState.COMPLETE: TrialState.COMPLETE,
    OptunaState.FAIL: TrialState.FAILED,
    OptunaState.PRUNED: TrialState.PRUNED,
}
_OPTUNA_STATES = {
    TrialState.COMPLETE: OptunaState.COMPLETE,
    TrialState.FAILED: OptunaState.FAIL,
    TrialState.PRUNED: OptunaState.PRUNED,
}


class SearchSpaceChanged(ValueError):
    """A study resumed with a different search space: its trials would no longer fit."""


class TuningStudy:
    """One TuningJob's Optuna study, read and written in the reconcile core's terms."""

    def __init__(
        self,
        job: TuningJob,
        storage: str | optuna.storages.BaseStorage,
        flush: Callable[[], None] | None = None,
    ) -> None:
        """Open (or create) the study; ``flush`` makes buffered writes durable, if the storage
        buffers them (the cluster journal does, to keep API requests per trial low)."""
        self._flush = flush
        spec = job.spec
        self.space = SearchSpace.from_parameters(spec.parameters)
        sampler = build_sampler(spec.strategy, self.space, spec.limits.parallel_trials)
        optuna.logging.set_verbosity(optuna.logging.WARNING)
        self.study = optuna.create_study(
            study_name=job.name,
            storage=storage,
            sampler=sampler,
            direction=spec.objective.direction,
            load_if_exists=True,
        )
        attrs = self.study.user_attrs
        fingerprint = self.space.fingerprint()
        if ATTR_SPACE not in attrs:
            self.study.set_user_attr(ATTR_SPACE, fingerprint)
            self.study.set_user_attr(ATTR_STARTED_AT, time.time())
        elif attrs[ATTR_SPACE] != fingerprint:
            raise SearchSpaceChanged(
                f"study {job.name!r} was started with a different search space; "
                "spec.parameters cannot change once trials exist (use a new name)"
            )
        self._trial_ids: dict[int, int] = {}

    def flush(self) -> None:
        """Make every write so far durable; called before anything outside depends on them."""
        if self._flush is not None:
            self._flush()

    @property
    def started_at(self) -> float:
        return float(self.study.user_attrs[ATTR_STARTED_AT])

    def records(self) -> list[TrialRecord]:
        records = []
        for trial in self.study.get_trials(deepcopy=False):
            state = _STATES.get(trial.state)
            if state is None:  # WAITING: enqueued but never asked
                continue
            self._trial_ids[trial.number] = trial._trial_id
            records.append(self._record(trial, state))
        return records

    def _record(self, trial: FrozenTrial, state: TrialState) -> TrialRecord:
        attrs = trial.user_attrs
        return TrialRecord(
            number=trial.number,
            state=state,
            params=self.space.decode(trial.params),
            objective=trial.value if state is TrialState.COMPLETE else None,
            metrics=attrs.get(ATTR_METRICS, {}),
            reason=attrs.get(ATTR_REASON),
            message=attrs.get(ATTR_MESSAGE),
        )

    def ask(self, count: int) -> list[TrialRecord]:
        """Suggest ``count`` new trials; their parameters are stored before this returns."""
        asked = []
        for _ in range(count):
            trial = self.study.ask(self.space.distributions)
            self._trial_ids[trial.number] = trial._trial_id
            asked.append(
                TrialRecord(trial.number, TrialState.RUNNING, self.space.decode(trial.params))
            )
        return asked

    def tell(self, number: int, outcome: TrialOutcome) -> None:
        """Record how a trial ended; telling a finished trial again changes nothing."""
        trial_id = self._trial_ids.get(number)
        if trial_id is None:
            self.records()
            trial_id = self._trial_ids[number]
        storage = self.study._storage
        if storage.get_trial(trial_id).state.is_finished():
            return
        attrs: dict[str, Any] = {ATTR_METRICS: dict(outcome.metrics)}
        if outcome.reason is not None:
            attrs[ATTR_REASON] = str(outcome.reason)
        if outcome.message is not None:
            attrs[ATTR_MESSAGE] = outcome.message
        for key, value in attrs.items():
            storage.set_trial_user_attr(trial_id, key, value)
        _report(storage, trial_id, outcome)
        values: Sequence[float] | None = None
        if outcome.state is TrialState.COMPLETE and outcome.objective is not None:
            values = [outcome.objective]
        self.study.tell(number, values, state=_OPTUNA_STATES[outcome.state], skip_if_finished=True)


def _report(storage: optuna.storages.BaseStorage, trial_id: int, outcome: TrialOutcome) -> None:
    for observation in outcome.intermediate:
        if math.isfinite(observation.value):
            storage.set_trial_intermediate_value(trial_id, observation.step, observation.value)
