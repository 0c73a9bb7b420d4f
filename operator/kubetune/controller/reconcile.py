"""The reconcile step: the one tuning loop both backends drive.

``reconcile`` is pure: from the spec, the study's trials, what the runtime observes and the
clock, it returns the actions that move the TuningJob forward. Early stopping enters as an input
too: which running trials the study's pruner would stop now (``prunable``), so the verdict of
Optuna's pruner is applied here, deterministically, like every other rule. Backends carry the
actions out; running it again on the same inputs returns the same actions, which is what makes
the operator safe to kill at any moment.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Mapping, Sequence
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
    Report,
    Retry,
    RuntimeTrial,
    Stop,
    Suggest,
)
from kubetune.controller.outcome import (
    failed_outcome,
    pruned_outcome,
    stopped_outcome,
    succeeded_outcome,
)
from kubetune.metrics.series import MAX_INTERMEDIATE_VALUES, Observation
from kubetune.trials import TrialOutcome, TrialRecord, TrialState


def _settle(
    spec: TuningJobSpec, runtime: RuntimeTrial, now: float
) -> tuple[TrialOutcome, bool] | None:
    """How an observed workload ends its trial, and whether the workload must be stopped."""
    if runtime.phase is Phase.SUCCEEDED:
        return succeeded_outcome(spec, runtime.metrics), False
    if runtime.phase is Phase.FAILED:
        return failed_outcome(spec, runtime), False
    queue_timeout = spec.limits.queue_timeout_seconds
    if (
        runtime.phase is Phase.QUEUED
        and queue_timeout is not None
        and runtime.queued_since is not None
        and now - runtime.queued_since >= queue_timeout
    ):
        why = f": {runtime.message}" if runtime.message else ""
        message = f"still queued after queueTimeout {spec.limits.queue_timeout}{why}"
        outcome = TrialOutcome(TrialState.FAILED, reason=TrialReason.QUEUE_TIMEOUT, message=message)
        return outcome, True
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


def split_interruption(text: str) -> tuple[str, str]:
    """An interruption's journaled text, ``"<TrialReason>: <what happened>"``, as (reason,
    message)."""
    reason, _, message = text.partition(": ")
    return (reason, message) if message else (TrialReason.ERROR.value, text)


def _interruptions(
    spec: TuningJobSpec, trial: TrialRecord, runtime: RuntimeTrial
) -> Retry | Stop | None:
    """What a running trial's infrastructure interruptions call for: journal new ones, run it
    again if its workload was lost to one, or fail it once they exceed maxTrialRetries."""
    new = {k: v for k, v in runtime.interruptions.items() if k not in trial.interruptions}
    seen = {**trial.interruptions, **new}
    allowed = spec.limits.max_trial_retries
    if len(seen) > allowed:
        reason, what = split_interruption(list(seen.values())[-1])
        runs = "no rerun" if allowed == 0 else f"{allowed} reruns"
        message = f"{what}; maxTrialRetries {allowed} allows {runs} after an interruption"
        return Stop(trial.number, TrialOutcome(TrialState.FAILED, reason=reason, message=message))
    if runtime.interrupted:
        return Retry(trial.number, new, relaunch=True)
    if new:
        return Retry(trial.number, new)
    return None


# New intermediate values of one running trial journaled per reconcile step, at most.
MAX_REPORTS_PER_STEP = 50


def _new_observations(
    spec: TuningJobSpec, trial: TrialRecord, runtime: RuntimeTrial
) -> tuple[Observation, ...]:
    """Objective values a running workload reported at steps the study does not have yet."""
    if runtime.metrics is None or len(trial.intermediate) >= MAX_INTERMEDIATE_VALUES:
        return ()  # the study keeps no more of them (its last value is recorded at the end)
    latest: dict[int, Observation] = {}
    # The series keeps a bounded curve (MAX_INTERMEDIATE_VALUES): a trial printing without
    # pause does not make every step (and so Ctrl-C in `kubetune run`) slower than the last.
    # Several objectives: the curve of the first (what reports plot; none stops early).
    for observation in runtime.metrics.observations(spec.objective_metrics[0]):
        if observation.step not in trial.intermediate and math.isfinite(observation.value):
            latest[observation.step] = observation  # the last value printed for a step wins
    steps = sorted(latest)
    if len(steps) > MAX_REPORTS_PER_STEP:
        # Thinned evenly, the newest kept: each is one journal write, and a step (so Ctrl-C
        # in `kubetune run`) must not wait for thousands of them.
        stride = len(steps) / MAX_REPORTS_PER_STEP
        steps = [steps[int(i * stride)] for i in range(MAX_REPORTS_PER_STEP - 1)] + [steps[-1]]
    return tuple(latest[step] for step in steps)


def _apply(record: TrialRecord, outcome: TrialOutcome) -> TrialRecord:
    return replace(
        record,
        state=outcome.state,
        objective=outcome.objective,
        values=outcome.values,
        metrics=dict(outcome.metrics),
        reason=outcome.reason,
        message=outcome.message,
    )


def _step_running(
    spec: TuningJobSpec,
    trial: TrialRecord,
    observed: RuntimeTrial,
    now: float,
    early_stopping: bool,
    prunable: Collection[int],
    actions: list[Action],
) -> TrialRecord:
    """Append the actions one running trial with a workload calls for; return the trial as
    they leave it."""
    interrupted = _interruptions(spec, trial, observed)
    if interrupted is not None:
        actions.append(interrupted)
        if isinstance(interrupted, Stop):
            assert interrupted.outcome is not None
            return _apply(trial, interrupted.outcome)
        trial = replace(trial, interruptions={**trial.interruptions, **interrupted.interruptions})
        if interrupted.relaunch:
            return trial  # launched again once its lost workload is gone
    result = _settle(spec, observed, now)
    if result is not None:
        outcome, must_stop = result
        actions.append(Stop(trial.number, outcome) if must_stop else Record(trial.number, outcome))
        return _apply(trial, outcome)
    if observed.phase.active:
        # Values are journaled only for the early-stopping rule that judges them.
        new = _new_observations(spec, trial, observed) if early_stopping else ()
        if new:
            actions.append(Report(trial.number, new))
        if early_stopping and trial.number in prunable:
            known = {**trial.intermediate, **{o.step: o.value for o in new}}
            outcome = pruned_outcome(spec, known, observed.metrics)
            actions.append(Stop(trial.number, outcome))
            return _apply(trial, outcome)
    return trial


def reconcile(
    spec: TuningJobSpec,
    trials: Sequence[TrialRecord],
    runtime: Mapping[int, RuntimeTrial],
    started_at: float,
    now: float,
    prunable: Collection[int] = frozenset(),
) -> list[Action]:
    """The actions that move a TuningJob forward from what is known now.

    ``prunable``: running trials the early-stopping rule (the study's pruner) would stop, from
    the intermediate values in ``trials``; ignored when ``spec.earlyStopping`` is ``none``.
    """
    early_stopping = spec.early_stopping.algorithm != "none"
    actions: list[Action] = []
    settled: list[TrialRecord] = []
    for trial in trials:
        observed = runtime.get(trial.number)
        if trial.state is TrialState.RUNNING and observed is not None:
            trial = _step_running(spec, trial, observed, now, early_stopping, prunable, actions)
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

    names = {parameter.name for parameter in spec.parameters}
    relaunching = {a.number for a in actions if isinstance(a, Retry) and a.relaunch}
    for trial in running:
        if trial.number in runtime or trial.number in relaunching:
            continue
        if names <= trial.params.keys():
            actions.append(Launch(trial.number, trial.params))
        else:
            # Suggested by a runner that died half-way through storing it: never launch a
            # trial with parameters missing; set it aside without counting it as a failure.
            missing = ", ".join(sorted(names - trial.params.keys()))
            message = f"not launched: its parameters were never fully stored ({missing})"
            actions.append(Record(trial.number, stopped_outcome(TrialReason.STOPPED, message)))
    budget, _ = trial_budget(spec)
    wanted = min(budget - len(settled), spec.limits.parallel_trials - len(running))
    if wanted > 0:
        actions.append(Suggest(wanted))
    return actions
