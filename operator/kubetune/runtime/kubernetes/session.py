"""One TuningJob's tuning loop on a cluster: its study, its backend and its status.

A session is rebuilt from the cluster alone (the study journal in ConfigMaps, the trial Jobs in
the watch cache), so the operator may be killed at any moment. ``step`` is synchronous and runs
in a worker thread; the kopf daemon decides when to call it.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from kubetune.api import SpecError, TuningJob, parse_tuningjob
from kubetune.api.duration import parse_duration
from kubetune.api.status import AuxiliaryConditionType, AuxiliaryReason, ConditionType, Reason
from kubetune.controller.completion import best_trial
from kubetune.controller.model import Action, Phase, Record, RuntimeTrial, Stop
from kubetune.controller.status import condition, find_condition, put_condition, tuningjob_status
from kubetune.controller.tuner import Tuner
from kubetune.names import trial_name
from kubetune.runtime.kubernetes.acceptance import (
    Acceptance,
    Event,
    Refusal,
    refused_status,
    spec_condition,
)
from kubetune.runtime.kubernetes.backend import ClusterView, KubernetesBackend
from kubetune.runtime.kubernetes.journal import JournalEntryTooLargeError
from kubetune.runtime.kubernetes.retention import JobCollector, JobRetention
from kubetune.search.accepted import NoAcceptedSpec
from kubetune.search.samplers import SamplerUnavailable
from kubetune.search.space import SearchSpace
from kubetune.search.study import SearchSpaceChanged, StudyStore, TuningStudy
from kubetune.trials import TrialRecord, TrialState

log = logging.getLogger(__name__)

# Wake up at least this often even when nothing happens: a safety net, not the mechanism.
RESYNC_SECONDS = 300.0

# Where the study of the TuningJob (name, namespace, uid) lives.
StudyStoreOpener = Callable[[str, str, str], StudyStore]

__all__ = ["RESYNC_SECONDS", "ClusterSession", "Event", "StepOutcome", "StudyStoreOpener"]


@dataclass
class StepOutcome:
    status: dict[str, Any]
    events: list[Event] = field(default_factory=list)
    wake_in: float = RESYNC_SECONDS
    # For the operator's own metrics: seconds per suggestion, and (state, seconds) of each trial
    # recorded in this step; whether the metrics source answers (None: not Prometheus).
    suggestion_seconds: list[float] = field(default_factory=list)
    trial_durations: list[tuple[str, float]] = field(default_factory=list)
    metrics_source_available: bool | None = None


class ClusterSession:
    def __init__(
        self,
        name: str,
        namespace: str,
        uid: str,
        study_store: StudyStoreOpener,
        backend_factory: Callable[[TuningJob], KubernetesBackend],
        clock: Callable[[], float] = time.time,
        retention: JobRetention | None = None,
    ) -> None:
        """``retention`` None keeps every finished trial Job (until the TuningJob goes)."""
        self.name = name
        self.namespace = namespace
        self.uid = uid
        self._study_store = study_store
        self._backend_factory = backend_factory
        self.clock = clock
        self.tuner: Tuner | None = None
        self.backend: KubernetesBackend | None = None
        self._announced_pending: set[int] = set()
        self.retention = retention
        self.collector: JobCollector | None = None
        self._next_collection: float | None = None
        # The accepted spec is stored in the study once per generation (for a restarted
        # process to go on with it while an edit is refused).
        self.acceptance = Acceptance()

    def step(self, body: Mapping[str, Any], view: ClusterView) -> StepOutcome:
        now = self.clock()
        generation = (body.get("metadata") or {}).get("generation")
        previous = body.get("status") or {}
        refusal = self._accept(body, generation)
        unusable: str | None = None
        if self.tuner is None and self.acceptance.should_resume(generation):
            # Refused in a process that accepted no spec yet (it restarted while the edit
            # stands): go on with the spec the study stored as accepted, if it has one.
            unusable = self._resume(body)
            self.acceptance.resume_tried = generation  # once per generation (unless the API failed)
        if self.tuner is None:  # no spec accepted (by this process, or stored in the study)
            assert refusal is not None
            status, events = refused_status(refusal, previous, generation, now, unusable)
            return StepOutcome(status, events, RESYNC_SECONDS)
        # A refused edit leaves the study as it was accepted: it goes on with that spec (the
        # tuner's), so running trials are still recorded, and the edit is reported beside it.
        tuner = self.tuner
        job = tuner.job
        assert self.backend is not None
        self.backend.update(job, view)
        result = tuner.step()  # ends with a flush: every result it recorded is durable
        running = {t.number for t in result.trials if t.state is TrialState.RUNNING}
        self._collect_jobs(job, result.trials, view, now)
        observed = self.backend.observe(running)
        events = self._pending_events(observed, running)
        pending = "; ".join(
            f"{trial_name(self.name, n)} {t.reason}: {t.message}"
            for n, t in sorted(observed.items())
            if n in running and t.phase is Phase.PENDING and t.reason
        )
        status = tuningjob_status(
            job.spec,
            self.name,
            result.trials,
            result.completion,
            tuner.study.started_at,
            now,
            generation,
            previous,
            pending or None,
            tuner.study.warm_start_trials if job.spec.warm_start is not None else None,
            queued=sum(1 for n, t in observed.items() if n in running and t.phase is Phase.QUEUED),
        )
        before_conditions = previous.get("conditions") or []
        item, spec_events = spec_condition(
            self.acceptance, refusal, before_conditions, generation, now
        )
        status["conditions"] = put_condition(status["conditions"], item, before_conditions)
        events.extend(spec_events)
        available = self._metrics_source(job, status, previous, generation, now, events)
        completion = result.completion
        if completion is not None and not previous.get("completionTime"):
            kind = "Normal" if completion.type is ConditionType.COMPLETE else "Warning"
            events.append(Event(kind, completion.reason.value, completion.message))
        wake_in = self._next_wake(job, tuner, observed, running, now)
        prometheus = job.spec.metrics.prometheus
        if job.spec.metrics.source == "prometheus" and prometheus is not None and running:
            wake_in = min(wake_in, parse_duration(prometheus.interval))
        return StepOutcome(
            status,
            events,
            wake_in,
            suggestion_seconds=result.suggestion_seconds,
            trial_durations=self._durations(tuner, result.actions),
            metrics_source_available=available,
        )

    @staticmethod
    def _durations(tuner: Tuner, actions: Sequence[Action]) -> list[tuple[str, float]]:
        durations = []
        for action in actions:
            if isinstance(action, Record | Stop) and action.outcome is not None:
                seconds = tuner.study.duration(action.number)
                if seconds is not None:
                    durations.append((action.outcome.state.value, seconds))
        return durations

    def _metrics_source(
        self,
        job: TuningJob,
        status: dict[str, Any],
        previous: Mapping[str, Any],
        generation: int | None,
        now: float,
        events: list[Event],
    ) -> bool | None:
        """The MetricsSourceAvailable condition of a TuningJob reading Prometheus."""
        if job.spec.metrics.source != "prometheus" or self.backend is None:
            return None
        error = self.backend.metrics_error
        item = condition(
            AuxiliaryConditionType.METRICS_SOURCE_AVAILABLE,
            error is None,
            AuxiliaryReason.PROMETHEUS_UNAVAILABLE
            if error
            else AuxiliaryReason.PROMETHEUS_AVAILABLE,
            f"{error}; finished trials wait for their metrics" if error else "queries answer",
            now,
            generation,
        )
        before_conditions = previous.get("conditions") or []
        before = find_condition(before_conditions, item["type"])
        if error and (before is None or before.get("status") != item["status"]):
            events.append(Event("Warning", item["reason"], item["message"]))
        status["conditions"] = put_condition(status["conditions"], item, before_conditions)
        return error is None

    def _accept(self, body: Mapping[str, Any], generation: int | None) -> Refusal | None:
        """Parse the body and make it the tuner's spec; why not, if it cannot be accepted.

        A refused spec leaves the tuner (if any) with the spec last accepted.
        """
        try:
            self._tuner(parse_tuningjob(body))
        except SpecError as error:
            return Refusal(Reason.INVALID_SPEC, "; ".join(str(e) for e in error.errors))
        except SearchSpaceChanged as error:
            return Refusal(Reason.SEARCH_SPACE_CHANGED, str(error))
        except SamplerUnavailable as error:
            return Refusal(Reason.INVALID_SPEC, str(error))
        if self.acceptance.accept(generation):
            self._store_accepted(body, generation)
        return None

    def _store_accepted(self, body: Mapping[str, Any], generation: int | None) -> None:
        """Store the spec just accepted in the study, once per generation: buffered, it
        reaches the journal with the step's final flush (no request of its own unless the
        step writes nothing else)."""
        assert self.tuner is not None
        try:
            self.tuner.study.store_accepted_spec(generation, body.get("spec") or {})
            self.acceptance.store_failed(None)
        except JournalEntryTooLargeError as error:
            self.acceptance.store_failed(str(error))
            log.error(
                "TuningJob %s/%s: the spec of generation %s could not be stored in its study "
                "(%s); it is in effect, but an operator restarted while a later edit is refused "
                "cannot go on with it",
                self.namespace,
                self.name,
                generation,
                error,
            )

    def _resume(self, body: Mapping[str, Any]) -> str | None:
        """Open the study with the spec it stored as accepted and make it the tuner's; why
        not, if it has none that can be used (None: nothing stored, e.g. a TuningJob started
        before specs were stored, or no study at all)."""
        try:
            store = self._study_store(self.name, self.namespace, self.uid)
            study = store.open_accepted(body.get("metadata") or {})
        except NoAcceptedSpec as error:
            if not error.stored:
                log.info("TuningJob %s/%s: %s", self.namespace, self.name, error)
                return None
            unusable = str(error)
        except (SearchSpaceChanged, SamplerUnavailable) as error:
            unusable = f"the spec stored as accepted cannot be used: {error}"
        else:
            self._resumed(study)
            return None
        log.warning("TuningJob %s/%s: %s", self.namespace, self.name, unusable)
        return unusable

    def _resumed(self, study: TuningStudy) -> None:
        """Go on with the study as it was opened with the spec it stored as accepted."""
        self._start(study)
        accepted = study.accepted_spec()
        generation = None if accepted is None else accepted.generation
        self.acceptance.resumed(generation)
        log.info(
            "TuningJob %s/%s: its spec is refused; going on with the spec of generation %s "
            "stored in its study",
            self.namespace,
            self.name,
            generation,
        )

    def _collect_jobs(
        self, job: TuningJob, trials: Sequence[TrialRecord], view: ClusterView, now: float
    ) -> None:
        """Delete the finished Jobs of recorded trials whose retention has passed."""
        self._next_collection = None
        if self.retention is None or self.backend is None:
            return
        if self.collector is None:
            self.collector = JobCollector(self.backend.batch, self.namespace, self.retention)
        recorded = {t.number for t in trials if t.state.finished}
        best = best_trial(job.spec, trials)
        self._next_collection = self.collector.collect(
            view.jobs, recorded, None if best is None else best.number, now
        )

    def _start(self, study: TuningStudy) -> Tuner:
        """Drive ``study`` with the TuningJob it was opened with."""
        job = study.job
        self.backend = self._backend_factory(job)
        self.tuner = Tuner(job, study, self.backend, self.clock)
        self._strategy = job.spec.strategy
        return self.tuner

    def _tuner(self, job: TuningJob) -> Tuner:
        if self.tuner is None:
            return self._start(self._study_store(self.name, self.namespace, self.uid).open(job))
        study = self.tuner.study
        if (
            SearchSpace.from_parameters(job.spec.parameters).fingerprint()
            != study.space.fingerprint()
        ):
            raise SearchSpaceChanged(
                "spec.parameters cannot change once trials exist (it would corrupt the study); "
                "revert the change or create a new TuningJob"
            )
        if job.spec.strategy != self._strategy:
            study.set_strategy(job.spec.strategy, job.spec.limits.parallel_trials)
            self._strategy = job.spec.strategy
        self.tuner.job = job
        return self.tuner

    def _pending_events(
        self, observed: Mapping[int, RuntimeTrial], running: set[int]
    ) -> list[Event]:
        """One Warning per trial that cannot start (e.g. no node has the GPU it asks for)."""
        events = []
        for number, trial in sorted(observed.items()):
            stuck = number in running and trial.phase is Phase.PENDING and trial.reason
            if stuck and number not in self._announced_pending:
                self._announced_pending.add(number)
                name = trial_name(self.name, number)
                message = f"trial {name} cannot start: {trial.reason}: {trial.message}"
                events.append(Event("Warning", "TrialPending", message))
        return events

    def _next_wake(
        self,
        job: TuningJob,
        tuner: Tuner,
        observed: Mapping[int, RuntimeTrial],
        running: set[int],
        now: float,
    ) -> float:
        """Seconds until a time-based rule could fire (maxRuntime, pendingTimeout,
        queueTimeout)."""
        deadlines = [now + RESYNC_SECONDS]
        if self._next_collection is not None:
            deadlines.append(self._next_collection)
        limits = job.spec.limits
        if limits.max_runtime_seconds is not None:
            deadlines.append(tuner.study.started_at + limits.max_runtime_seconds)
        if limits.pending_timeout_seconds is not None:
            deadlines.extend(
                t.pending_since + limits.pending_timeout_seconds
                for n, t in observed.items()
                if n in running and t.phase is Phase.PENDING and t.pending_since is not None
            )
        if limits.queue_timeout_seconds is not None:
            deadlines.extend(
                t.queued_since + limits.queue_timeout_seconds
                for n, t in observed.items()
                if n in running and t.phase is Phase.QUEUED and t.queued_since is not None
            )
        return max(0.05, min(deadlines) - now + 0.01)
