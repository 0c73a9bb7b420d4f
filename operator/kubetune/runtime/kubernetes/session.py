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
from kubetune.api.status import ConditionType, Reason
from kubetune.controller.completion import best_trial
from kubetune.controller.model import (
    Action,
    Phase,
    Record,
    RuntimeTrial,
    Stop,
    TrialRecord,
    TrialState,
)
from kubetune.controller.naming import trial_name
from kubetune.controller.status import (
    condition,
    invalid_status,
    merge_conditions,
    timestamp,
    tuningjob_status,
)
from kubetune.controller.tuner import Tuner
from kubetune.runtime.kubernetes.backend import ClusterView, KubernetesBackend
from kubetune.runtime.kubernetes.retention import JobCollector, JobRetention
from kubetune.search.samplers import SamplerUnavailable, build_sampler
from kubetune.search.space import SearchSpace
from kubetune.search.study import SearchSpaceChanged, TuningStudy

log = logging.getLogger(__name__)

# Wake up at least this often even when nothing happens: a safety net, not the mechanism.
RESYNC_SECONDS = 300.0

StudyOpener = Callable[[TuningJob, str, str], TuningStudy]


@dataclass(frozen=True)
class Event:
    """A Kubernetes Event to post on the TuningJob."""

    type: str
    reason: str
    message: str


@dataclass
class StepOutcome:
    status: dict[str, Any]
    events: list[Event] = field(default_factory=list)
    wake_in: float = RESYNC_SECONDS
    done: bool = False
    # For the operator's own metrics: seconds per suggestion, and (state, seconds) of each trial
    # recorded in this step; whether the metrics source answers (None: not Prometheus).
    suggestion_seconds: list[float] = field(default_factory=list)
    trial_durations: list[tuple[str, float]] = field(default_factory=list)
    metrics_source_available: bool | None = None


# A condition beside Running/Complete/Failed for TuningJobs reading metrics from Prometheus.
METRICS_SOURCE_AVAILABLE = "MetricsSourceAvailable"
PROMETHEUS_AVAILABLE = "PrometheusAvailable"
PROMETHEUS_UNAVAILABLE = "PrometheusUnavailable"


class ClusterSession:
    def __init__(
        self,
        name: str,
        namespace: str,
        uid: str,
        open_study: StudyOpener,
        backend_factory: Callable[[TuningJob], KubernetesBackend],
        clock: Callable[[], float] = time.time,
        retention: JobRetention | None = None,
    ) -> None:
        """``retention`` None keeps every finished trial Job (until the TuningJob goes)."""
        self.name = name
        self.namespace = namespace
        self.uid = uid
        self._open_study = open_study
        self._backend_factory = backend_factory
        self.clock = clock
        self.tuner: Tuner | None = None
        self.backend: KubernetesBackend | None = None
        self._announced_pending: set[int] = set()
        self.retention = retention
        self.collector: JobCollector | None = None
        self._next_collection: float | None = None

    def step(self, body: Mapping[str, Any], view: ClusterView) -> StepOutcome:
        now = self.clock()
        generation = (body.get("metadata") or {}).get("generation")
        previous = body.get("status") or {}
        try:
            job = parse_tuningjob(body)
        except SpecError as error:
            message = "; ".join(str(e) for e in error.errors)
            return self._rejected(Reason.INVALID_SPEC, message, previous, generation, now)
        try:
            tuner = self._tuner(job)
        except SearchSpaceChanged as error:
            return self._rejected(
                Reason.SEARCH_SPACE_CHANGED, str(error), previous, generation, now
            )
        except SamplerUnavailable as error:
            return self._rejected(Reason.INVALID_SPEC, str(error), previous, generation, now)
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
        )
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
            done=result.completion is not None,
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
        item: dict[str, Any] = {
            "type": METRICS_SOURCE_AVAILABLE,
            "status": "False" if error else "True",
            "reason": PROMETHEUS_UNAVAILABLE if error else PROMETHEUS_AVAILABLE,
            "message": (
                f"{error}; finished trials wait for their metrics" if error else "queries answer"
            ),
            "lastTransitionTime": timestamp(now),
        }
        if generation is not None:
            item["observedGeneration"] = generation
        before = next(
            (
                c
                for c in previous.get("conditions") or []
                if c.get("type") == METRICS_SOURCE_AVAILABLE
            ),
            None,
        )
        if before is not None and before.get("status") == item["status"]:
            item["lastTransitionTime"] = before.get(
                "lastTransitionTime", item["lastTransitionTime"]
            )
        elif error:
            events.append(Event("Warning", PROMETHEUS_UNAVAILABLE, item["message"]))
        conditions = [
            c for c in status.get("conditions") or [] if c.get("type") != METRICS_SOURCE_AVAILABLE
        ]
        status["conditions"] = [*conditions, item]
        return error is None

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

    def _tuner(self, job: TuningJob) -> Tuner:
        if self.tuner is None:
            study = self._open_study(job, self.namespace, self.uid)
            self.backend = self._backend_factory(job)
            self.tuner = Tuner(job, study, self.backend, self.clock)
            self._strategy = job.spec.strategy
            return self.tuner
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
            study.study.sampler = build_sampler(
                job.spec.strategy, study.space, job.spec.limits.parallel_trials
            )
            self._strategy = job.spec.strategy
        self.tuner.job = job
        return self.tuner

    def _rejected(
        self,
        reason: Reason,
        message: str,
        previous: Mapping[str, Any],
        generation: int | None,
        now: float,
    ) -> StepOutcome:
        if reason is Reason.INVALID_SPEC and self.tuner is None:
            status = invalid_status(message, now, generation)
        else:
            # The study goes on as it was accepted; the rejected edit is reported beside it.
            status = dict(previous)
            rejected = condition(ConditionType.FAILED, True, reason, message, now, generation)
            status["conditions"] = [
                c for c in previous.get("conditions") or [] if c.get("type") != ConditionType.FAILED
            ] + [rejected]
            status["observedGeneration"] = generation
        status["conditions"] = merge_conditions(
            previous.get("conditions") or [], status["conditions"]
        )
        changed = previous.get("conditions") != status["conditions"]
        events = [Event("Warning", reason.value, message)] if changed else []
        return StepOutcome(status, events, RESYNC_SECONDS, done=True)

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
        """Seconds until a time-based rule could fire (maxRuntime, pendingTimeout)."""
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
        return max(0.05, min(deadlines) - now + 0.01)
