"""``status.diagnosis``: the verdict on the best trial, once the study has finished."""

from __future__ import annotations

from kubetune.api.status import ConditionType, Reason
from kubetune.controller.model import Completion
from kubetune.controller.status import tuningjob_status
from kubetune.trials import TrialRecord, TrialState

from ..manifests import spec


def diagnosed_spec(baseline: float = 0.0) -> object:
    from kubetune.api import parse_tuningjob

    from ..manifests import manifest

    document = manifest(objective={"additionalMetrics": ["train-loss"]})
    document["spec"]["diagnosis"] = {"trainMetric": "train-loss", "baseline": baseline}
    return parse_tuningjob(document).spec


def trial(number: int, loss: float, train: float) -> TrialRecord:
    return TrialRecord(
        number,
        TrialState.COMPLETE,
        {"x": 0.5, "n": 1, "kind": "a"},
        objective=loss,
        metrics={"loss": loss, "train-loss": train},
    )


def status_of(completion: Completion | None, trials: list[TrialRecord]) -> dict[str, object]:
    return tuningjob_status(
        diagnosed_spec(),  # type: ignore[arg-type]
        "tune",
        trials,
        completion,
        started_at=1_800_000_000.0,
        now=1_800_000_090.0,
        generation=1,
    )


def test_finished_study_gets_the_verdict_of_its_best_trial() -> None:
    done = Completion(ConditionType.COMPLETE, Reason.MAX_TRIALS_REACHED, "2 trials ran")
    result = status_of(done, [trial(0, 0.5, 0.45), trial(1, 0.11, 0.01)])
    assert result["diagnosis"] == {
        "verdict": "highVariance",
        "message": "validation error 0.11 vs train 0.01 (baseline 0); variance (validation - "
        "train) 0.1 is high",
        "trial": 1,
    }


def test_no_diagnosis_while_running_or_without_spec_diagnosis() -> None:
    assert "diagnosis" not in status_of(None, [trial(0, 0.11, 0.01)])
    done = Completion(ConditionType.COMPLETE, Reason.MAX_TRIALS_REACHED, "1 trial ran")
    plain = tuningjob_status(
        spec(), "tune", [trial(0, 0.11, 0.01)], done, 1_800_000_000.0, 1_800_000_090.0, 1
    )
    assert "diagnosis" not in plain


def test_a_failed_study_without_success_is_unknown() -> None:
    failure = Completion(ConditionType.FAILED, Reason.MAX_FAILED_TRIALS_EXCEEDED, "4 failed")
    result = status_of(failure, [])
    assert result["diagnosis"] == {
        "verdict": "unknown",
        "message": "cannot diagnose: no trial has succeeded yet",
    }
