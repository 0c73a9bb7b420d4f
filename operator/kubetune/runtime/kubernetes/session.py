"""One TuningJob's tuning loop on a cluster: its study, its backend and its status.

A session is rebuilt from the cluster alone (the study journal in ConfigMaps, the trial Jobs in
the watch cache), so the operator may be killed at any moment. ``step`` is synchronous and runs
in a worker thread; the kopf daemon decides when to call it.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from kubetune.api import SpecError, TuningJob, parse_tuningjob
from kubetune.api.status import ConditionType, Reason
from kubetune.controller.model import Phase, RuntimeTrial, TrialState
from kubetune.controller.naming import trial_name
from kubetune.controller.status import condition, invalid_status, merge_conditions, tuningjob_status
from kubetune.controller.tuner import Tuner
from kubetune.runtime.kubernetes.backend import ClusterView, KubernetesBackend
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


class ClusterSession:
    def __init__(
        self,
        name: str,
        namespace: str,
        uid: str,
        open_study: StudyOpener,
        backend_factory: Callable[[TuningJob], KubernetesBackend],
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.name = name
        self.namespace = namespace
        self.uid = uid
        self._open_study = open_study
        self._backend_factory = backend_factory
        self.clock = clock
        self.tuner: Tuner | None = None
        self.backend: KubernetesBackend | None = None
        self._announced_pending: set[int] = set()

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
        result = tuner.step()
        running = {t.number for t in result.trials if t.state is TrialState.RUNNING}
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
        completion = result.completion
        if completion is not None and not previous.get("completionTime"):
            kind = "Normal" if completion.type is ConditionType.COMPLETE else "Warning"
            events.append(Event(kind, completion.reason.value, completion.message))
        return StepOutcome(
            status,
            events,
            self._next_wake(job, tuner, observed, running, now),
            done=result.completion is not None,
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
