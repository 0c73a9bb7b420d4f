"""The bias/variance verdicts, their numbers and next steps, on hand-made trial records."""

from __future__ import annotations

import pytest
from kubetune.controller.diagnosis import (
    BOTH,
    HIGH_BIAS,
    HIGH_VARIANCE,
    MISMATCH,
    NEXT_STEPS,
    OK,
    DiagnosisSettings,
    Thresholds,
    diagnose,
)
from kubetune.trials import TrialRecord, TrialState


def trial(number: int, validation: float, train: float, test: float | None = None) -> TrialRecord:
    metrics = {"train": train, "validation": validation}
    if test is not None:
        metrics["test"] = test
    return TrialRecord(number, TrialState.COMPLETE, {"x": 1}, validation, metrics)


def settings(**changes: object) -> DiagnosisSettings:
    base: dict[str, object] = {
        "objective": "validation",
        "direction": "minimize",
        "train_metric": "train",
        "test_metric": "test",
        "baseline": 0.0,
    }
    base.update(changes)
    return DiagnosisSettings(**base)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("validation", "train", "test", "baseline", "verdict"),
    [
        # the course's examples, as error rates
        (0.16, 0.15, None, 0.005, HIGH_BIAS),
        (0.11, 0.01, None, 0.0, HIGH_VARIANCE),
        (0.30, 0.15, None, 0.005, BOTH),
        (0.10, 0.09, 0.30, 0.08, MISMATCH),
        (0.10, 0.09, 0.11, 0.08, OK),
    ],
)
def test_verdicts(
    validation: float, train: float, test: float | None, baseline: float, verdict: str
) -> None:
    best = trial(0, validation, train, test)
    found = diagnose([best], best, settings(baseline=baseline))
    assert found.verdict == verdict
    assert found.trial == 0
    assert found.next_steps == tuple(
        step for finding in (found.findings or (OK,)) for step in NEXT_STEPS[finding]
    )
    assert f"validation error {validation:.4g} vs train {train:.4g}" in found.message


def test_both_lists_the_steps_of_bias_and_variance() -> None:
    best = trial(0, 0.30, 0.15)
    found = diagnose([best], best, settings(baseline=0.005))
    assert found.findings == (HIGH_BIAS, HIGH_VARIANCE)
    assert "train a bigger model (more layers or units, deeper trees)" in found.next_steps
    assert "add regularization (L2, dropout, weight decay)" in found.next_steps
    assert "avoidable bias 0.145 is high" in found.message


def test_maximize_objectives_are_errors_as_one_minus_value() -> None:
    # accuracy: validation 0.84, train 0.85, best achievable 0.995 -> errors 0.16, 0.15, 0.005
    best = trial(0, 0.84, 0.85)
    found = diagnose([best], best, settings(direction="maximize", baseline=0.995))
    assert found.verdict == HIGH_BIAS
    assert found.gaps is not None
    assert found.gaps.train == pytest.approx(0.15)
    assert found.gaps.baseline == pytest.approx(0.005)
    assert "(as 1 - value)" in found.message


def test_thresholds_are_overridable() -> None:
    best = trial(0, 0.11, 0.09)  # variance 0.02 of 0.11: 18%
    assert diagnose([best], best, settings(baseline=0.08)).verdict == OK
    strict = settings(baseline=0.08, thresholds=Thresholds(variance=0.1))
    assert diagnose([best], best, strict).verdict == HIGH_VARIANCE


def test_study_verdicts_count_every_trial_with_the_metrics() -> None:
    trials = [trial(0, 0.11, 0.01), trial(1, 0.16, 0.15), trial(2, 0.12, 0.01)]
    trials.append(TrialRecord(3, TrialState.FAILED, {"x": 1}))
    trials.append(TrialRecord(4, TrialState.COMPLETE, {"x": 1}, 0.2, {}))  # no train metric
    found = diagnose(trials, trials[0], settings())
    assert found.study_verdicts == {HIGH_VARIANCE: 2, HIGH_BIAS: 1}


def test_unknown_without_a_best_trial_or_its_train_metric() -> None:
    assert diagnose([], None, settings()).verdict == "unknown"
    lacking = TrialRecord(0, TrialState.COMPLETE, {"x": 1}, 0.2, {})
    found = diagnose([lacking], lacking, settings())
    assert found.verdict == "unknown"
    assert "did not report train" in found.message


def test_gap_importances_are_shares_ranked() -> None:
    best = trial(0, 0.11, 0.01)
    found = diagnose([best], best, settings(), lambda: {"depth": 3.0, "lr": 1.0})
    assert found.gap_importances == (("depth", 0.75), ("lr", 0.25))
