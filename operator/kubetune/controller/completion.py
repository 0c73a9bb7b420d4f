"""Completion rules: when a TuningJob is done, and which rule said so.

Everything here is derived from the spec, the recorded trials and the clock, so an operator that
restarts reaches the same verdict without having stored it.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from kubetune.api.spec import TuningJobSpec, is_feasible
from kubetune.api.status import ConditionType, Reason
from kubetune.controller.model import Completion
from kubetune.search.pareto import pareto_trials
from kubetune.search.space import SearchSpace
from kubetune.trials import TrialRecord, TrialState


def trial_budget(spec: TuningJobSpec) -> tuple[int, Reason]:
    """How many trials may run, and the reason given when they all have."""
    grid_size = (
        SearchSpace.from_parameters(spec.parameters).grid_size()
        if spec.strategy.algorithm == "grid"
        else None
    )
    max_trials = spec.limits.max_trials
    if grid_size is not None and (max_trials is None or max_trials > grid_size):
        reason = Reason.MAX_TRIALS_REACHED if max_trials is None else Reason.SEARCH_SPACE_EXHAUSTED
        return grid_size, reason
    if max_trials is None:  # validation requires maxTrials for every other strategy
        raise ValueError("spec.limits.maxTrials is required")
    return max_trials, Reason.MAX_TRIALS_REACHED


def best_trial(spec: TuningJobSpec, trials: Sequence[TrialRecord]) -> TrialRecord | None:
    """The completed feasible trial (``spec.constraints``) with the best objective (the
    earliest one on ties); None with several objectives, where no trial is best (the Pareto
    front, ``kubetune.search.pareto``, takes its place)."""
    if spec.objective is None:
        return None
    completed = [
        t
        for t in trials
        if t.state is TrialState.COMPLETE
        and t.objective is not None
        and is_feasible(spec.constraints, t.metrics)
    ]
    if not completed:
        return None
    # min and max keep the first of equal items: the earliest trial wins a tie.
    pick = min if spec.objective.direction == "minimize" else max
    return pick(completed, key=_objective)


def _objective(trial: TrialRecord) -> float:
    return trial.objective if trial.objective is not None else math.nan


def _reaches_target(spec: TuningJobSpec, value: float) -> bool:
    objective = spec.objective
    if objective is None or objective.target is None:
        return False
    return (
        value <= objective.target
        if objective.direction == "minimize"
        else value >= objective.target
    )


def _last_improvement(spec: TuningJobSpec, trials: Sequence[TrialRecord]) -> TrialRecord | None:
    """The trial that last improved the search: the best trial, or with several objectives
    the newest trial on the Pareto front (the last one to join it)."""
    if spec.multi_objective:
        front = pareto_trials(spec, trials)
        return max(front, key=lambda t: t.number) if front else None
    return best_trial(spec, trials)


def _trials_since(spec: TuningJobSpec, trials: Sequence[TrialRecord], last: TrialRecord) -> int:
    return sum(
        1
        for t in trials
        if t.state is TrialState.COMPLETE
        and (t.objective is not None or t.values is not None)
        and t.number > last.number
    )


def evaluate_completion(
    spec: TuningJobSpec,
    trials: Sequence[TrialRecord],
    started_at: float,
    now: float,
) -> Completion | None:
    """The first completion rule that holds, or None while the study should go on."""
    limits = spec.limits
    succeeded = sum(1 for t in trials if t.state is TrialState.COMPLETE)
    failed = sum(1 for t in trials if t.state is TrialState.FAILED)
    running = sum(1 for t in trials if t.state is TrialState.RUNNING)

    if failed > limits.max_failed_trials:
        return Completion(
            ConditionType.FAILED,
            Reason.MAX_FAILED_TRIALS_EXCEEDED,
            f"{failed} trials failed, more than maxFailedTrials ({limits.max_failed_trials})",
            stops_running_trials=True,
        )
    best = best_trial(spec, trials)
    objective = spec.objective
    if (
        objective is not None
        and best is not None
        and best.objective is not None
        and _reaches_target(spec, best.objective)
    ):
        return Completion(
            ConditionType.COMPLETE,
            Reason.TARGET_REACHED,
            f"trial {best.number} reached {objective.metric}={best.objective:g} "
            f"(target {objective.target:g})",
            stops_running_trials=True,
        )
    patience = limits.stop_after_trials_without_improvement
    last = _last_improvement(spec, trials) if patience is not None else None
    if patience is not None and last is not None:
        since = _trials_since(spec, trials, last)
        if since >= patience:
            message = (
                f"{since} trials since the last to join the Pareto front (trial {last.number})"
                if spec.multi_objective
                else f"{since} trials since the best (trial {last.number})"
            )
            return Completion(
                ConditionType.COMPLETE,
                Reason.NO_IMPROVEMENT,
                f"{message} without improvement",
                stops_running_trials=True,
            )
    max_runtime = limits.max_runtime_seconds
    if max_runtime is not None and now - started_at >= max_runtime:
        return Completion(
            ConditionType.COMPLETE if succeeded else ConditionType.FAILED,
            Reason.MAX_RUNTIME_REACHED,
            f"maxRuntime {limits.max_runtime} reached after {len(trials)} trials",
            stops_running_trials=True,
        )
    budget, reason = trial_budget(spec)
    if len(trials) >= budget and running == 0:
        what = "all grid points" if reason is Reason.SEARCH_SPACE_EXHAUSTED else f"{budget} trials"
        if succeeded:
            return Completion(ConditionType.COMPLETE, reason, f"{what} ran, {succeeded} succeeded")
        return Completion(ConditionType.FAILED, reason, f"{what} ran and none succeeded")
    return None
