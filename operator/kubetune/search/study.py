"""The study behind a TuningJob: Optuna storage seen as trial records.

The study is the durable state of a tuning run. Everything the reconcile core needs is read
back from it (trials, parameters, results, start time), so a process that dies loses nothing.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import optuna
from optuna.trial import FrozenTrial
from optuna.trial import TrialState as OptunaState

from kubetune.api.errors import SpecError
from kubetune.api.loading import parse_tuningjob
from kubetune.api.spec import EarlyStopping, Strategy, TuningJob, violations
from kubetune.metrics.series import MAX_INTERMEDIATE_VALUES, Observation
from kubetune.names import API_VERSION, KIND
from kubetune.search.multi_objective import build_multi_objective_sampler
from kubetune.search.pruners import build_pruner
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
ATTR_METRICS = "kubetune.metrics"
ATTR_REASON = "kubetune.reason"
ATTR_MESSAGE = "kubetune.message"
# Infrastructure interruptions of a trial: {what was interrupted (pod/Job uid): what happened}.
ATTR_INTERRUPTIONS = "kubetune.interruptions"
# The spec the study goes on with: {"generation": <int or null>, "spec": <the TuningJob's spec>}.
ATTR_ACCEPTED_SPEC = "kubetune.acceptedSpec"

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


class NoAcceptedSpec(LookupError):
    """A study opened with :meth:`StudyStore.open_accepted` has no spec stored as accepted that
    can be used: no such study, none stored (a study started before specs were stored), or
    (``stored``) the one stored no longer validates."""

    def __init__(self, message: str, *, stored: bool = False) -> None:
        super().__init__(message)
        self.stored = stored


@dataclass(frozen=True)
class AcceptedSpec:
    """The spec a TuningJob's study goes on with, as stored in the study."""

    generation: int | None
    spec: dict[str, Any]  # the TuningJob's ``spec``, as JSON

    @classmethod
    def of(cls, value: Any) -> AcceptedSpec | None:
        """The accepted spec stored as ``value`` (the study attribute), None if malformed."""
        if not isinstance(value, Mapping) or not isinstance(value.get("spec"), Mapping):
            return None
        generation = value.get("generation")
        if generation is not None and type(generation) is not int:
            return None
        return cls(generation, dict(value["spec"]))


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
        return self.open(_accepted_job(metadata, self.storage))


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
        _store_intermediate(storage, trial_id, trial.intermediate_values, observations)

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
        _store_intermediate(
            storage, trial_id, trial.intermediate_values, outcome.intermediate, True
        )
        values: Sequence[float] | None = None
        if outcome.state is TrialState.COMPLETE and outcome.values is not None:
            values = list(outcome.values)
        elif outcome.state is TrialState.COMPLETE and outcome.objective is not None:
            values = [outcome.objective]
        self.study.tell(
            number + self.warm_start_trials,
            values,
            state=_OPTUNA_STATES[outcome.state],
            skip_if_finished=True,
        )


def trial_state(trial: FrozenTrial) -> TrialState | None:
    """A stored trial's state in the core's terms; None for one enqueued but never asked."""
    return _STATES.get(trial.state)


def trial_record(
    trial: FrozenTrial, state: TrialState, space: SearchSpace, warm_start_trials: int = 0
) -> TrialRecord:
    """A stored trial as the core's record (also what reports read, without opening a
    TuningStudy, which writes to the storage). ``warm_start_trials``: how many of the study's
    first trials came from warm-start parents (``warm_start_count``); the job's trial numbers
    start after them."""
    attrs = trial.user_attrs
    values = trial.values if state in (TrialState.COMPLETE, TrialState.PRUNED) else None
    return TrialRecord(
        number=trial.number - warm_start_trials,
        state=state,
        params=space.decode(trial.params),
        # A pruned trial keeps its last intermediate value (Optuna stores it as the value).
        objective=values[0] if values and len(values) == 1 else None,
        values=tuple(values) if values and len(values) > 1 else None,
        metrics=attrs.get(ATTR_METRICS, {}),
        reason=attrs.get(ATTR_REASON),
        message=attrs.get(ATTR_MESSAGE),
        intermediate=trial.intermediate_values,
        interruptions=attrs.get(ATTR_INTERRUPTIONS, {}),
    )


def _accepted_job(metadata: Mapping[str, Any], storage: optuna.storages.BaseStorage) -> TuningJob:
    """The TuningJob of ``metadata`` with the spec its study stored as accepted."""
    name = metadata.get("name")
    if not isinstance(name, str):
        raise NoAcceptedSpec("the TuningJob has no name")
    try:
        study_id = storage.get_study_id_from_name(name)
    except KeyError:
        raise NoAcceptedSpec(f"TuningJob {name!r} has no study") from None
    attrs = storage.get_study_user_attrs(study_id)
    accepted = AcceptedSpec.of(attrs.get(ATTR_ACCEPTED_SPEC))
    if accepted is None:
        raise NoAcceptedSpec(f"the study of TuningJob {name!r} stores no accepted spec")
    manifest = {
        "apiVersion": API_VERSION,
        "kind": KIND,
        "metadata": dict(metadata),
        "spec": accepted.spec,
    }
    try:
        return parse_tuningjob(manifest)
    except SpecError as error:
        problems = "; ".join(str(e) for e in error.errors)
        raise NoAcceptedSpec(
            f"the spec of generation {accepted.generation} stored as accepted no longer "
            f"validates: {problems}",
            stored=True,
        ) from None


def _store_intermediate(
    storage: optuna.storages.BaseStorage,
    trial_id: int,
    stored: Mapping[int, float],
    observations: Sequence[Observation],
    final: bool = False,
) -> None:
    """Journal the observations the trial does not have yet, at most
    ``MAX_INTERMEDIATE_VALUES`` per trial (a tqdm bar printing 200,000 steps must not write
    200,000 journal entries); when the trial ends (``final``) its last step is stored even
    past the cap, so that its curve ends where the trial did."""
    room = MAX_INTERMEDIATE_VALUES - len(stored)
    fresh = [o for o in observations if math.isfinite(o.value) and stored.get(o.step) != o.value]
    keep = fresh[: max(0, room)]
    if final and fresh and fresh[-1] not in keep:
        keep.append(fresh[-1])
    for observation in keep:
        storage.set_trial_intermediate_value(trial_id, observation.step, observation.value)
