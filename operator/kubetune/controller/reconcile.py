"""The reconcile step: the one tuning loop both backends drive.

``reconcile`` is pure: from the spec, the study's trials, what the runtime observes and the
clock, it returns the actions that move the TuningJob forward. Backends carry the actions out;
running it again on the same inputs returns the same actions, which is what makes the operator
safe to kill at any moment.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace

from kubetune.api.spec import TuningJobSpec
from kubetune.api.status import TrialReason
from kubetune.controller.completion import evaluate_completion, trial_budget
from kubetune.controller.model import (
    Action,
    Finish,
    Launch,
    Phase,
    Record,
    RuntimeTrial,
    Stop,
    Suggest,
    TrialOutcome,
    TrialRecord,
    TrialState,
)
from kubetune.controller.outcome import failed_outcome, stopped_outcome, succeeded_outcome


def _settle(
    spec: TuningJobSpec, runtime: RuntimeTrial, now: float
) -> tuple[TrialOutcome, bool] | None:
    """How an observed workload ends its trial, and whether the workload must be stopped."""
    if runtime.phase is Phase.SUCCEEDED:
        return succeeded_outcome(spec, runtime.metrics), False
    if runtime.phase is Phase.FAILED:
        return failed_outcome(spec, runtime), False
    timeout = spec.limits.pending_timeout_seconds
    if (
        runtime.phase is Phase.PENDING
        and timeout is not None
        and runtime.pending_since is not None
        and now - runtime.pending_since >= timeout
    ):
        why = f": {runtime.message}" if runtime.message else ""
        message = f"not started within pendingTimeout {spec.limits.pending_timeout}{why}"
        outcome = TrialOutcome(
            TrialState.FAILED, reason=TrialReason.PENDING_TIMEOUT, message=message
        )
        return outcome, True
    return None


def _apply(record: TrialRecord, outcome: TrialOutcome) -> TrialRecord:
    return replace(
        record,
        state=outcome.state,
        objective=outcome.objective,
        metrics=dict(outcome.metrics),
        reason=outcome.reason,
        message=outcome.message,
    )


def reconcile(
    spec: TuningJobSpec,
    trials: Sequence[TrialRecord],
    runtime: Mapping[int, RuntimeTrial],
    started_at: float,
    now: float,
) -> list[Action]:
    """The actions that move a TuningJob forward from what is known now."""
    actions: list[Action] = []
    settled: list[TrialRecord] = []
    for trial in trials:
        observed = runtime.get(trial.number)
        if trial.state is TrialState.RUNNING and observed is not None:
            result = _settle(spec, observed, now)
            if result is not None:
                outcome, must_stop = result
                actions.append(
                    Stop(trial.number, outcome) if must_stop else Record(trial.number, outcome)
                )
                trial = _apply(trial, outcome)
        elif trial.state.finished and observed is not None and observed.phase.active:
            actions.append(Stop(trial.number))  # recorded already; its workload lingers
        settled.append(trial)

    running = [t for t in settled if t.state is TrialState.RUNNING]
    completion = evaluate_completion(spec, settled, started_at, now)
    if completion is not None:
        if completion.stops_running_trials:
            outcome = stopped_outcome(TrialReason.STOPPED, f"stopped: {completion.message}")
            actions.extend(Stop(t.number, outcome) for t in running)
            running = []
        if not running:
            actions.append(Finish(completion))
        return actions

    actions.extend(Launch(t.number, t.params) for t in running if t.number not in runtime)
    budget, _ = trial_budget(spec)
    wanted = min(budget - len(settled), spec.limits.parallel_trials - len(running))
    if wanted > 0:
        actions.append(Suggest(wanted))
    return actions
