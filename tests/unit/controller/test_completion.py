"""Completion rules (``evaluate_completion``): each rule fires at its threshold, not before."""

from __future__ import annotations

from typing import Any

import pytest
from kubetune.api import ConditionType, Reason, TuningJobSpec
from kubetune.controller.completion import best_trial, evaluate_completion, trial_budget
from kubetune.controller.model import Completion
from kubetune.trials import TrialRecord

from tests.unit.controller.trials import complete, failed, pruned, running
from tests.unit.manifests import REMOVE, spec

START = 1_000_000.0
NOW = START + 60.0

GRID_PARAMETERS = [
    {"name": "n", "type": "int", "min": 1, "max": 2},
    {"name": "kind", "type": "categorical", "values": ["a", "b"]},
]


def make_spec(**limits: Any) -> TuningJobSpec:
    return spec(limits=limits)


def verdict(spec_: TuningJobSpec, trials: list[TrialRecord], now: float = NOW) -> Completion | None:
    return evaluate_completion(spec_, trials, started_at=START, now=now)


# --- maxTrials ------------------------------------------------------------------------------


def test_max_trials_reached() -> None:
    result = verdict(make_spec(maxTrials=3), [complete(0, 3.0), failed(1), complete(2, 1.0)])
    assert result == Completion(
        ConditionType.COMPLETE, Reason.MAX_TRIALS_REACHED, "3 trials ran, 2 succeeded"
    )


def test_max_trials_waits_for_running_trials() -> None:
    assert verdict(make_spec(maxTrials=3), [complete(0, 3.0), running(1), complete(2, 1.0)]) is None


def test_below_max_trials_goes_on() -> None:
    assert verdict(make_spec(maxTrials=3), [complete(0, 3.0), pruned(1)]) is None


def test_pruned_trials_count_towards_max_trials() -> None:
    result = verdict(make_spec(maxTrials=2), [complete(0, 3.0), pruned(1)])
    assert result is not None
    assert result.reason is Reason.MAX_TRIALS_REACHED


@pytest.mark.parametrize("trials", [[failed(0), failed(1)], [failed(0), pruned(1)]])
def test_no_trial_succeeded_fails(trials: list[TrialRecord]) -> None:
    result = verdict(make_spec(maxTrials=2, maxFailedTrials=5), trials)
    assert result == Completion(
        ConditionType.FAILED, Reason.MAX_TRIALS_REACHED, "2 trials ran and none succeeded"
    )


# --- target ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("direction", "target", "objectives", "reached"),
    [
        ("minimize", 0.5, [0.9, 0.4], True),
        ("minimize", 0.5, [0.9, 0.5], True),
        ("minimize", 0.5, [0.9, 0.6], False),
        ("minimize", -1.0, [0.0, -2.0], True),
        ("maximize", 0.9, [0.5, 0.95], True),
        ("maximize", 0.9, [0.5, 0.9], True),
        ("maximize", 0.9, [0.5, 0.89], False),
        ("maximize", 0.9, [0.1, 0.2], False),
    ],
)
def test_target(direction: str, target: float, objectives: list[float], reached: bool) -> None:
    spec_ = spec(objective={"direction": direction, "target": target}, limits={"maxTrials": 50})
    trials = [complete(i, value) for i, value in enumerate(objectives)]
    result = verdict(spec_, [*trials, running(len(trials))])
    if not reached:
        assert result is None
        return
    assert result is not None
    assert (result.type, result.reason) == (ConditionType.COMPLETE, Reason.TARGET_REACHED)
    assert result.stops_running_trials
    assert result.message == f"trial 1 reached loss={objectives[1]:g} (target {target:g})"


def test_target_ignores_failed_trials_metrics() -> None:
    spec_ = spec(objective={"target": 0.5}, limits={"maxTrials": 50})
    bad = TrialRecord(0, failed(0).state, {}, objective=None, metrics={"loss": 0.1})
    assert verdict(spec_, [bad, complete(1, 0.9)]) is None


# --- maxFailedTrials ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("max_failed", "failures", "fails"), [(3, 3, False), (3, 4, True), (0, 1, True), (0, 0, False)]
)
def test_max_failed_trials(max_failed: int, failures: int, fails: bool) -> None:
    trials = [failed(i) for i in range(failures)]
    trials += [complete(failures, 1.0), running(failures + 1)]
    result = verdict(make_spec(maxTrials=50, maxFailedTrials=max_failed), trials)
    if not fails:
        assert result is None
        return
    assert result == Completion(
        ConditionType.FAILED,
        Reason.MAX_FAILED_TRIALS_EXCEEDED,
        f"{failures} trials failed, more than maxFailedTrials ({max_failed})",
        stops_running_trials=True,
    )


def test_default_max_failed_trials_is_3() -> None:
    spec_ = make_spec(maxTrials=50)
    assert verdict(spec_, [failed(i) for i in range(3)]) is None
    result = verdict(spec_, [failed(i) for i in range(4)])
    assert result is not None
    assert result.reason is Reason.MAX_FAILED_TRIALS_EXCEEDED


def test_pruned_trials_are_not_failures() -> None:
    assert verdict(make_spec(maxTrials=50, maxFailedTrials=0), [pruned(0), pruned(1)]) is None


# --- maxRuntime -----------------------------------------------------------------------------


@pytest.mark.parametrize(("elapsed", "reached"), [(3599.0, False), (3600.0, True), (7200.0, True)])
def test_max_runtime(elapsed: float, reached: bool) -> None:
    spec_ = make_spec(maxTrials=50, maxRuntime="1h")
    result = verdict(spec_, [complete(0, 1.0), running(1)], now=START + elapsed)
    if not reached:
        assert result is None
        return
    assert result == Completion(
        ConditionType.COMPLETE,
        Reason.MAX_RUNTIME_REACHED,
        "maxRuntime 1h reached after 2 trials",
        stops_running_trials=True,
    )


def test_max_runtime_without_a_success_fails() -> None:
    spec_ = make_spec(maxTrials=50, maxRuntime="90s")
    result = verdict(spec_, [failed(0), running(1)], now=START + 90)
    assert result is not None
    assert (result.type, result.reason) == (ConditionType.FAILED, Reason.MAX_RUNTIME_REACHED)


# --- no improvement -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("direction", "objectives", "stops"),
    [
        ("minimize", [5.0, 1.0, 2.0, 3.0], False),
        ("minimize", [5.0, 1.0, 2.0, 3.0, 1.5], True),
        ("minimize", [5.0, 1.0, 1.0, 1.0, 1.0], True),  # equal is no improvement
        ("minimize", [5.0, 4.0, 3.0, 2.0, 1.0], False),
        ("minimize", [1.0, 2.0, 3.0, 0.5, 2.0, 2.0], False),
        ("maximize", [5.0, 1.0, 2.0, 3.0], True),
        ("maximize", [1.0, 2.0, 3.0, 4.0], False),
    ],
)
def test_trials_without_improvement(direction: str, objectives: list[float], stops: bool) -> None:
    spec_ = spec(
        objective={"direction": direction},
        limits={"maxTrials": 50, "stopAfterTrialsWithoutImprovement": 3},
    )
    trials = [complete(i, value) for i, value in enumerate(objectives)]
    result = verdict(spec_, [*trials, running(len(trials))])
    if not stops:
        assert result is None
        return
    assert result is not None
    assert (result.type, result.reason) == (ConditionType.COMPLETE, Reason.NO_IMPROVEMENT)
    assert result.stops_running_trials
    best = best_trial(spec_, trials)
    assert best is not None
    assert f"(trial {best.number})" in result.message


def test_failed_trials_do_not_count_as_without_improvement() -> None:
    spec_ = make_spec(maxTrials=50, maxFailedTrials=10, stopAfterTrialsWithoutImprovement=2)
    trials = [complete(0, 1.0), failed(1), failed(2), pruned(3), complete(4, 2.0)]
    assert verdict(spec_, trials) is None
    result = verdict(spec_, [*trials, complete(5, 3.0)])
    assert result is not None
    assert result.reason is Reason.NO_IMPROVEMENT


# --- grid -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("max_trials", "budget", "reason"),
    [
        (REMOVE, 4, Reason.MAX_TRIALS_REACHED),
        (10, 4, Reason.SEARCH_SPACE_EXHAUSTED),
        (4, 4, Reason.MAX_TRIALS_REACHED),
        (3, 3, Reason.MAX_TRIALS_REACHED),
    ],
)
def test_grid_budget(max_trials: Any, budget: int, reason: Reason) -> None:
    spec_ = spec(parameters=GRID_PARAMETERS, algorithm="grid", limits={"maxTrials": max_trials})
    assert trial_budget(spec_) == (budget, reason)

    trials = [complete(i, float(i)) for i in range(budget)]
    assert verdict(spec_, trials[:-1]) is None
    result = verdict(spec_, trials)
    assert result is not None
    assert (result.type, result.reason) == (ConditionType.COMPLETE, reason)


def test_grid_exhausted_message() -> None:
    spec_ = spec(parameters=GRID_PARAMETERS, algorithm="grid", limits={"maxTrials": 100})
    result = verdict(spec_, [complete(0, 1.0), failed(1), complete(2, 1.0), complete(3, 2.0)])
    assert result == Completion(
        ConditionType.COMPLETE, Reason.SEARCH_SPACE_EXHAUSTED, "all grid points ran, 3 succeeded"
    )


def test_grid_exhausted_without_a_success_fails() -> None:
    spec_ = spec(
        parameters=GRID_PARAMETERS,
        algorithm="grid",
        limits={"maxTrials": 100, "maxFailedTrials": 10},
    )
    result = verdict(spec_, [failed(i) for i in range(4)])
    assert result == Completion(
        ConditionType.FAILED,
        Reason.SEARCH_SPACE_EXHAUSTED,
        "all grid points ran and none succeeded",
    )


def test_non_grid_strategies_have_no_grid_budget() -> None:
    spec_ = spec(parameters=GRID_PARAMETERS, algorithm="random", limits={"maxTrials": 10})
    assert trial_budget(spec_) == (10, Reason.MAX_TRIALS_REACHED)


# --- precedence and the best trial ----------------------------------------------------------


def test_failure_limit_wins_over_target() -> None:
    spec_ = spec(objective={"target": 1.0}, limits={"maxTrials": 50, "maxFailedTrials": 0})
    result = verdict(spec_, [complete(0, 0.5), failed(1)])
    assert result is not None
    assert result.reason is Reason.MAX_FAILED_TRIALS_EXCEEDED


def test_target_wins_over_max_trials() -> None:
    spec_ = spec(objective={"target": 1.0}, limits={"maxTrials": 2})
    result = verdict(spec_, [complete(0, 5.0), complete(1, 0.5)])
    assert result is not None
    assert result.reason is Reason.TARGET_REACHED


@pytest.mark.parametrize(("direction", "expected"), [("minimize", 1), ("maximize", 3)])
def test_best_trial(direction: str, expected: int) -> None:
    spec_ = spec(objective={"direction": direction})
    trials = [
        complete(0, 2.0),
        complete(1, 0.0),
        failed(2),
        complete(3, 7.0),
        complete(4, 0.0),
        complete(5, 7.0),
        running(6),
    ]
    best = best_trial(spec_, trials)
    assert best is not None
    assert best.number == expected


def test_no_best_trial_without_a_success() -> None:
    assert best_trial(spec(), [failed(0), running(1), pruned(2)]) is None
