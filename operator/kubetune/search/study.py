"""The study behind a TuningJob: Optuna storage seen as trial records.

The study is the durable state of a tuning run. Everything the reconcile core needs is read
back from it (trials, parameters, results, start time), so a process that dies loses nothing.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import optuna
from optuna.trial import FrozenTrial
from optuna.trial import TrialState as OptunaState

from kubetune.api.spec import EarlyStopping, Strategy, TuningJob, violations
from kubetune.metrics.series import Observation
from kubetune.search.accepted import ATTR_ACCEPTED_SPEC, AcceptedSpec, accepted_job
from kubetune.search.multi_objective import build_multi_objective_sampler
from kubetune.search.pruners import build_pruner
from kubetune.search.records import (
    ATTR_INTERRUPTIONS,
    ATTR_MESSAGE,
    ATTR_METRICS,
    ATTR_REASON,
    OPTUNA_STATES,
    store_intermediate,
    trial_record,
    trial_state,
)
from kubetune.search.samplers import CONSTRAINT_BLIND, build_sampler
from kubetune.search.seeding import plan_seeding, seed_study
from kubetune.search.space import SearchSpace
from kubetune.search.views import CONSTRAINTS_KEY, ConstrainedSampler, TransferSampler
from kubetune.search.warm_start import (
    ATTR_OBJECTIVES,
    ATTR_WARM_START,
    ParentLoader,
    warm_start_count,
)
from kubetune.trials import TrialOutcome, TrialRecord, TrialState

ATTR_STARTED_AT = "kubetune.startedAt"
# Seconds that `kubetune run` has run this study, over all its runs (see start_run_clock).
ATTR_RUN_SECONDS = "kubetune.runSeconds"
ATTR_SPACE = "kubetune.searchSpace"


class SearchSpaceChanged(ValueError):
    """A study resumed with a different search space: its trials would no longer fit."""


@dataclass(frozen=True)
class StudyStore:
    """Where a TuningJob's study lives: an Optuna storage and, if it buffers writes (the
    cluster journal does), how to make them durable."""

    storage: optuna.storages.BaseStorage
    flush: Callable[[], None] | None = None
    parents: ParentLoader | None = None  # reads spec.warmStart's parents

    def open(self, job: TuningJob) -> TuningStudy:
        """The study of ``job``, created (and seeded) if it does not exist yet."""
        return TuningStudy(job, self.storage, flush=self.flush, parents=self.parents)

    def open_accepted(self, metadata: Mapping[str, Any]) -> TuningStudy:
        """The existing study of the TuningJob of ``metadata`` (as the API server holds it),
        opened with the spec it stored as accepted, validated again (``TuningStudy.job``):
        for a TuningJob whose current spec is refused. Never creates a study; raises
        :class:`NoAcceptedSpec` if there is no spec that can be used."""
        return self.open(accepted_job(metadata, self.storage))


class TuningStudy:
    """One TuningJob's Optuna study, read and written in the reconcile core's terms."""

    def __init__(
        self,
        job: TuningJob,
        storage: str | optuna.storages.BaseStorage,
        flush: Callable[[], None] | None = None,
        parents: ParentLoader | None = None,
    ) -> None:
        """Open (or create) the study; ``flush`` makes buffered writes durable, if the storage
        buffers them (the cluster journal does, to keep API requests per trial low).

        A study created here is seeded (``kubetune.search.seeding``): ``parents`` reads the
        parents of ``spec.warmStart``; one that cannot be read raises ``WarmStartError`` (a
        ``SpecError``) before anything is stored.
        """
        self._flush = flush
        self.job = job  # the TuningJob (and spec) the study was opened with
        spec = job.spec
        self.space = SearchSpace.from_parameters(spec.parameters)
        sampler = self._build_sampler(spec.strategy, spec.limits.parallel_trials)
        optuna.logging.set_verbosity(optuna.logging.WARNING)
        self.study = optuna.create_study(
            study_name=job.name,
            storage=storage,
            sampler=sampler,
            pruner=build_pruner(spec.early_stopping),
            directions=spec.directions,
            load_if_exists=True,
        )
        if len(self.study.directions) != len(spec.directions):
            raise SearchSpaceChanged(
                f"study {job.name!r} was started with {len(self.study.directions)} "
                f"objective(s), the spec has {len(spec.directions)}: spec.objective(s) cannot "
                "change between one and several objectives once trials exist (use a new name)"
            )
        attrs = self.study.user_attrs
        fingerprint = self.space.fingerprint()
        if ATTR_SPACE not in attrs:
            plan = plan_seeding(spec, parents)
            self.study.set_user_attr(ATTR_SPACE, fingerprint)
            self.study.set_user_attr(ATTR_OBJECTIVES, spec.objective_metrics)
            self.study.set_user_attr(ATTR_STARTED_AT, time.time())
            seed_study(self.study, self.space, spec, plan)
            attrs = self.study.user_attrs
        elif attrs[ATTR_SPACE] != fingerprint:
            raise SearchSpaceChanged(
                f"study {job.name!r} was started with a different search space; "
                "spec.parameters cannot change once trials exist (use a new name)"
            )
        # The study's first trials are the warm-start trials of its parents (if any): this job's
        # trial N is the study's trial N + warm_start_trials, and records leave the others out.
        self.warm_start_trials = warm_start_count(attrs)
        self.study.sampler = self._viewed(self.study.sampler)
        self._trial_ids: dict[int, int] = {}
        self._finished_records: dict[int, TrialRecord] = {}
        self._early_stopping = spec.early_stopping
        self._run_began: float | None = None  # when this run started (start_run_clock)
        self._run_before = 0.0  # seconds earlier runs ran

    def flush(self) -> None:
        """Make every write so far durable; called before anything outside depends on them."""
        if self._flush is not None:
            self._flush()

    def accepted_spec(self) -> AcceptedSpec | None:
        """The spec stored as the one the study goes on with, if any."""
        return AcceptedSpec.of(self.study.user_attrs.get(ATTR_ACCEPTED_SPEC))

    def store_accepted_spec(self, generation: int | None, spec: Mapping[str, Any]) -> bool:
        """Store ``spec`` (a TuningJob's ``spec``, accepted as of ``generation``) as the one the
        study goes on with, for a process that opens it again while the TuningJob's current spec
        is refused (:meth:`StudyStore.open_accepted`). Buffered like any write (durable on the next
        flush); nothing is written if it is stored already. Returns whether it wrote.

        Raises what the storage raises for a value it cannot take (the cluster journal:
        ``JournalEntryTooLargeError``, nothing written).
        """
        accepted = AcceptedSpec(generation, json.loads(json.dumps(dict(spec))))
        if self.accepted_spec() == accepted:
            return False
        value = {"generation": accepted.generation, "spec": accepted.spec}
        self.study.set_user_attr(ATTR_ACCEPTED_SPEC, value)
        return True

    def warm_start_parents(self) -> dict[str, int]:
        """How many warm-start trials came from each parent (empty without a warm start)."""
        recorded = self.study.user_attrs.get(ATTR_WARM_START)
        parents = recorded.get("parents") if isinstance(recorded, Mapping) else None
        return dict(parents) if isinstance(parents, Mapping) else {}

    def set_strategy(self, strategy: Strategy, parallel_trials: int) -> None:
        """Suggest with another strategy from now on (the spec was edited)."""
        self.study.sampler = self._viewed(self._build_sampler(strategy, parallel_trials))

    def _build_sampler(
        self, strategy: Strategy, parallel_trials: int
    ) -> optuna.samplers.BaseSampler:
        spec = self.job.spec
        if spec.multi_objective:
            return build_multi_objective_sampler(strategy, self.space)
        return build_sampler(strategy, self.space, parallel_trials)

    def _viewed(self, sampler: optuna.samplers.BaseSampler) -> optuna.samplers.BaseSampler:
        """``sampler`` seeing transferred warm-start results on the job's scale, and infeasible
        trials as the worst if it cannot read constraint values (``kubetune.search.views``)."""
        spec = self.job.spec
        if self.space.auto_scaled:
            from kubetune.search.warping import MixedScaleSampler  # SciPy: only when needed

            sampler = MixedScaleSampler(sampler, self.space.auto_scaled, spec.strategy.seed)
        if spec.constraints and spec.strategy.algorithm in CONSTRAINT_BLIND:
            sampler = ConstrainedSampler(sampler)
        if self.warm_start_trials and spec.warm_start is not None and spec.warm_start.transfer:
            sampler = TransferSampler(sampler, self.warm_start_trials)
        return sampler

    def set_early_stopping(self, early: EarlyStopping) -> None:
        """Use another early-stopping rule from now on (the spec was edited)."""
        if early != self._early_stopping:
            self.study.pruner = build_pruner(early)
            self._early_stopping = early

    @property
    def started_at(self) -> float:
        """Where maxRuntime counts from: the study's creation (the operator: wall-clock time, an
        outage does not pause a TuningJob), or with ``start_run_clock`` (``kubetune run``) the
        start of this run less the time earlier runs ran (time between runs does not count)."""
        if self._run_began is not None:
            return self._run_began - self._run_before
        return float(self.study.user_attrs[ATTR_STARTED_AT])

    def start_run_clock(self, now: float | None = None) -> None:
        """Count maxRuntime in run time from now on: the time this run runs, on top of the run
        time stored by earlier runs (``save_run_clock``)."""
        self._run_before = float(self.study.user_attrs.get(ATTR_RUN_SECONDS, 0.0))
        self._run_began = time.time() if now is None else now

    def save_run_clock(self, now: float | None = None) -> float:
        """Store the run time so far (earlier runs and this one) for a later run to go on from;
        returns it. Only after ``start_run_clock``."""
        if self._run_began is None:
            raise RuntimeError("save_run_clock needs start_run_clock first")
        now = time.time() if now is None else now
        seconds = self._run_before + max(0.0, now - self._run_began)
        self.study.set_user_attr(ATTR_RUN_SECONDS, seconds)
        self.flush()
        return seconds

    def records(self) -> list[TrialRecord]:
        records = []
        finished = self._finished_records
        offset = self.warm_start_trials
        for trial in self.study.get_trials(deepcopy=False):
            if trial.number < offset:
                continue
            record = finished.get(trial.number - offset)
            if record is None:
                state = trial_state(trial)
                if state is None:  # WAITING: enqueued but never asked
                    continue
                self._trial_ids[trial.number - offset] = trial._trial_id
                record = self._record(trial, state)
                if state.finished:  # a finished trial never changes: build its record once
                    finished[record.number] = record
            records.append(record)
        return records

    def _record(self, trial: FrozenTrial, state: TrialState) -> TrialRecord:
        return trial_record(trial, state, self.space, self.warm_start_trials)

    def ask(self, count: int) -> list[TrialRecord]:
        """Suggest ``count`` new trials; their parameters are stored before this returns."""
        asked = []
        for _ in range(count):
            trial = self.study.ask(self.space.distributions)
            number = trial.number - self.warm_start_trials
            self._trial_ids[number] = trial._trial_id
            asked.append(TrialRecord(number, TrialState.RUNNING, self.space.decode(trial.params)))
        return asked

    def _trial_id(self, number: int) -> int:
        trial_id = self._trial_ids.get(number)
        if trial_id is None:
            self.records()
            trial_id = self._trial_ids[number]
        return trial_id

    def report(self, number: int, observations: Sequence[Observation]) -> None:
        """Store intermediate objective values of a running trial (what pruners judge)."""
        trial_id = self._trial_id(number)
        storage = self.study._storage
        trial = storage.get_trial(trial_id)
        if trial.state.is_finished():
            return
        store_intermediate(storage, trial_id, trial.intermediate_values, observations)

    def note_interruptions(self, number: int, interruptions: Mapping[str, str]) -> None:
        """Journal a running trial's infrastructure interruptions; one already noted (same
        key) is not noted again, so repeating this after a restart changes nothing."""
        trial_id = self._trial_id(number)
        storage = self.study._storage
        trial = storage.get_trial(trial_id)
        if trial.state.is_finished():
            return
        known = dict(trial.user_attrs.get(ATTR_INTERRUPTIONS, {}))
        merged = {**known, **{k: v for k, v in interruptions.items() if k not in known}}
        if merged != known:
            storage.set_trial_user_attr(trial_id, ATTR_INTERRUPTIONS, merged)

    def prunable(self, numbers: Collection[int]) -> set[int]:
        """The running trials among ``numbers`` the study's pruner would stop now."""
        pruner = self.study.pruner
        if isinstance(pruner, optuna.pruners.NopPruner) or not numbers:
            return set()
        storage = self.study._storage
        verdicts = set()
        for number in sorted(numbers):
            trial = storage.get_trial(self._trial_id(number))
            judged = trial.state is OptunaState.RUNNING and trial.intermediate_values
            if judged and pruner.prune(self.study, trial):
                verdicts.add(number)
        return verdicts

    def duration(self, number: int) -> float | None:
        """Seconds from a trial's suggestion to its result, once it has one."""
        trial = self.study._storage.get_trial(self._trial_id(number))
        if trial.datetime_start is None or trial.datetime_complete is None:
            return None
        return (trial.datetime_complete - trial.datetime_start).total_seconds()

    def tell(self, number: int, outcome: TrialOutcome) -> None:
        """Record how a trial ended; telling a finished trial again changes nothing."""
        trial_id = self._trial_id(number)
        storage = self.study._storage
        trial = storage.get_trial(trial_id)
        if trial.state.is_finished():
            return
        attrs: dict[str, Any] = {ATTR_METRICS: dict(outcome.metrics)}
        if outcome.reason is not None:
            attrs[ATTR_REASON] = str(outcome.reason)
        if outcome.message is not None:
            attrs[ATTR_MESSAGE] = outcome.message
        for key, value in attrs.items():
            storage.set_trial_user_attr(trial_id, key, value)
        constraints = self.job.spec.constraints
        if constraints and outcome.state is TrialState.COMPLETE:
            storage.set_trial_system_attr(
                trial_id, CONSTRAINTS_KEY, violations(constraints, outcome.metrics)
            )
        store_intermediate(storage, trial_id, trial.intermediate_values, outcome.intermediate, True)
        values: Sequence[float] | None = None
        if outcome.state is TrialState.COMPLETE and outcome.values is not None:
            values = list(outcome.values)
        elif outcome.state is TrialState.COMPLETE and outcome.objective is not None:
            values = [outcome.objective]
        self.study.tell(
            number + self.warm_start_trials,
            values,
            state=OPTUNA_STATES[outcome.state],
            skip_if_finished=True,
        )
