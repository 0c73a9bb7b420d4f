"""``TuningStudy``: the Optuna study seen as trial records, and its durability rules."""

from __future__ import annotations

import math
from typing import Any

import optuna
import pytest
from kubetune.api import TuningJob, parse_tuningjob
from kubetune.api.status import TrialReason
from kubetune.metrics.logs import Observation
from kubetune.search.study import ATTR_SPACE, SearchSpaceChanged, TuningStudy
from kubetune.trials import TrialOutcome, TrialRecord, TrialState

from tests.unit.manifests import manifest

PARAMETERS: list[dict[str, Any]] = [
    {"name": "x", "type": "float", "min": 0.0, "max": 1.0},
    {"name": "momentum", "type": "float", "min": 0.5, "max": 0.999, "scale": "reverseLog"},
    {"name": "kind", "type": "categorical", "values": ["a", "b"]},
]


def tuning_job(parameters: list[dict[str, Any]] = PARAMETERS, **options: Any) -> TuningJob:
    return parse_tuningjob(manifest(name="study-test", parameters=parameters, **options))


def by_number(study: TuningStudy) -> dict[int, TrialRecord]:
    return {record.number: record for record in study.records()}


def test_ask_stores_running_trials_with_their_parameters(
    storage: optuna.storages.BaseStorage,
) -> None:
    study = TuningStudy(tuning_job(), storage)

    asked = study.ask(3)

    assert [r.number for r in asked] == [0, 1, 2]
    assert all(r.state is TrialState.RUNNING for r in asked)
    assert study.records() == asked
    # Stored before ask returns: another reader of the storage sees them.
    assert by_number(TuningStudy(tuning_job(), storage)) == {r.number: r for r in asked}


def test_reverse_log_parameters_are_decoded(storage: optuna.storages.BaseStorage) -> None:
    study = TuningStudy(tuning_job(), storage)
    asked = study.ask(20)

    raw = {t.number: t.params for t in study.study.get_trials()}
    for record in study.records():
        momentum = record.params["momentum"]
        assert isinstance(momentum, float)
        assert set(record.params) == {"x", "momentum", "kind"}
        assert 0.5 <= momentum <= 0.999
        assert momentum == pytest.approx(1 - raw[record.number]["1-momentum"], abs=1e-11)
        assert record == asked[record.number]


def test_tell_round_trip_of_a_completed_trial(storage: optuna.storages.BaseStorage) -> None:
    study = TuningStudy(tuning_job(objective={"additionalMetrics": ["acc"]}), storage)
    [trial] = study.ask(1)
    series = (
        Observation("loss", 0, 0.9),
        Observation("loss", 1, math.nan),
        Observation("loss", 2, 0.4),
    )

    study.tell(
        trial.number,
        TrialOutcome(
            TrialState.COMPLETE,
            objective=0.4,
            metrics={"loss": 0.4, "acc": 0.8},
            intermediate=series,
        ),
    )

    [record] = TuningStudy(tuning_job(objective={"additionalMetrics": ["acc"]}), storage).records()
    assert record == TrialRecord(
        0,
        TrialState.COMPLETE,
        trial.params,
        objective=0.4,
        metrics={"loss": 0.4, "acc": 0.8},
        intermediate={0: 0.9, 2: 0.4},
    )
    frozen = study.study.get_trials()[0]
    assert frozen.intermediate_values == {0: 0.9, 2: 0.4}  # NaN is not reportable
    assert study.study.best_value == 0.4


@pytest.mark.parametrize(
    ("state", "reason", "message"),
    [
        (TrialState.FAILED, TrialReason.OOM_KILLED, "container train was OOMKilled"),
        (TrialState.FAILED, TrialReason.METRICS_UNAVAILABLE, "never reported 'loss'"),
        (TrialState.PRUNED, TrialReason.STOPPED, "stopped: target reached"),
    ],
)
def test_tell_round_trip_of_an_unsuccessful_trial(
    storage: optuna.storages.BaseStorage, state: TrialState, reason: str, message: str
) -> None:
    study = TuningStudy(tuning_job(), storage)
    [trial] = study.ask(1)

    study.tell(0, TrialOutcome(state, metrics={"acc": 0.5}, reason=reason, message=message))

    [record] = study.records()
    assert record == TrialRecord(
        0,
        state,
        trial.params,
        objective=None,
        metrics={"acc": 0.5},
        reason=str(reason),
        message=message,
    )


def test_telling_a_finished_trial_again_changes_nothing(
    storage: optuna.storages.BaseStorage,
) -> None:
    study = TuningStudy(tuning_job(), storage)
    study.ask(1)
    study.tell(0, TrialOutcome(TrialState.COMPLETE, objective=1.5, metrics={"loss": 1.5}))
    before = study.records()

    study.tell(0, TrialOutcome(TrialState.FAILED, reason="Error", message="late report"))
    study.tell(0, TrialOutcome(TrialState.COMPLETE, objective=0.1, metrics={"loss": 0.1}))
    TuningStudy(tuning_job(), storage).tell(
        0, TrialOutcome(TrialState.PRUNED, reason="Stopped", message="again")
    )

    assert study.records() == before
    assert before[0].objective == 1.5


def test_a_resumed_study_can_tell_trials_it_did_not_ask(
    storage: optuna.storages.BaseStorage,
) -> None:
    first = TuningStudy(tuning_job(), storage)
    first.ask(2)

    resumed = TuningStudy(tuning_job(), storage)
    resumed.tell(1, TrialOutcome(TrialState.COMPLETE, objective=2.0))

    states = {r.number: r.state for r in first.records()}
    assert states == {0: TrialState.RUNNING, 1: TrialState.COMPLETE}
    assert [r.number for r in resumed.ask(1)] == [2]


def test_resuming_keeps_the_start_time(storage: optuna.storages.BaseStorage) -> None:
    started = TuningStudy(tuning_job(), storage).started_at
    assert TuningStudy(tuning_job(), storage).started_at == started


def test_direction_comes_from_the_objective(storage: optuna.storages.BaseStorage) -> None:
    study = TuningStudy(tuning_job(objective={"direction": "maximize"}), storage)
    assert study.study.direction == optuna.study.StudyDirection.MAXIMIZE


@pytest.mark.parametrize(
    "parameters",
    [
        [{**PARAMETERS[0], "max": 2.0}, *PARAMETERS[1:]],
        [PARAMETERS[0], {**PARAMETERS[1], "scale": "linear"}, PARAMETERS[2]],
        [*PARAMETERS[:2], {**PARAMETERS[2], "values": ["a", "b", "c"]}],
        PARAMETERS[:2],
    ],
    ids=["bound", "scale", "values", "removed"],
)
def test_resuming_with_a_changed_space_is_refused(
    storage: optuna.storages.BaseStorage, parameters: list[dict[str, Any]]
) -> None:
    TuningStudy(tuning_job(), storage).ask(1)
    with pytest.raises(SearchSpaceChanged, match="study-test"):
        TuningStudy(tuning_job(parameters), storage)


def test_resuming_with_other_limits_is_allowed(storage: optuna.storages.BaseStorage) -> None:
    TuningStudy(tuning_job(), storage).ask(1)
    resumed = TuningStudy(tuning_job(limits={"maxTrials": 99, "parallelTrials": 3}), storage)
    assert len(resumed.records()) == 1
    assert resumed.study.user_attrs[ATTR_SPACE] == resumed.space.fingerprint()


def test_report_then_prune_keeps_the_last_value(storage: optuna.storages.BaseStorage) -> None:
    study = TuningStudy(tuning_job(), storage)
    [trial] = study.ask(1)
    study.report(trial.number, [Observation("loss", 0, 0.9), Observation("loss", 1, 0.7)])
    assert study.records()[0].intermediate == {0: 0.9, 1: 0.7}
    assert study.prunable({trial.number}) == set()  # early stopping none: NopPruner

    study.tell(trial.number, TrialOutcome(TrialState.PRUNED, objective=0.7, reason="Pruned"))
    study.report(trial.number, [Observation("loss", 2, 0.1)])  # finished: ignored

    [record] = TuningStudy(tuning_job(), storage).records()
    assert record.state is TrialState.PRUNED
    assert record.objective == 0.7  # Optuna stores a pruned trial's last intermediate value
    assert record.intermediate == {0: 0.9, 1: 0.7}
    assert record.reason == "Pruned"
    assert study.duration(trial.number) is not None
