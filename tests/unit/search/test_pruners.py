"""The early-stopping registry, and the Tuner feeding a study's pruner with intermediate values
from an in-memory backend whose trials advance one step per observation."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import Any, get_args

import optuna
import pytest
from kubetune.api import parse_tuningjob
from kubetune.api.spec import EarlyStopping, EarlyStoppingAlgorithm
from kubetune.api.status import TrialReason
from kubetune.controller.model import Phase, RuntimeTrial
from kubetune.controller.tuner import Tuner
from kubetune.metrics.logs import MetricSeries, Observation
from kubetune.search.pruners import PRUNER_FACTORIES, build_pruner
from kubetune.search.study import TuningStudy
from kubetune.trials import ParamValue, TrialState

from tests.unit.manifests import manifest

STEPS = 8


def test_every_algorithm_has_a_pruner() -> None:
    assert set(PRUNER_FACTORIES) == set(get_args(EarlyStoppingAlgorithm))


@pytest.mark.parametrize(
    ("early", "kind"),
    [
        ({}, optuna.pruners.NopPruner),
        ({"algorithm": "median", "startStep": 2, "minTrials": 3}, optuna.pruners.MedianPruner),
        ({"algorithm": "percentile", "percentile": 25.0}, optuna.pruners.PercentilePruner),
        ({"algorithm": "hyperband", "maxResource": 9}, optuna.pruners.HyperbandPruner),
    ],
)
def test_build_pruner(early: dict[str, Any], kind: type[optuna.pruners.BasePruner]) -> None:
    pruner = build_pruner(EarlyStopping.model_validate(early, by_alias=True))
    assert isinstance(pruner, kind)


def test_median_settings_map_onto_the_pruner() -> None:
    early = EarlyStopping.model_validate(
        {"algorithm": "median", "startStep": 2, "minTrials": 3}, by_alias=True
    )
    pruner = build_pruner(early)
    assert isinstance(pruner, optuna.pruners.MedianPruner)
    assert pruner._n_startup_trials == 3
    assert pruner._n_warmup_steps == 2
    assert pruner._n_min_trials == 3


class CurveBackend:
    """Trial ``n`` reports ``loss = x + 1/(step+1)`` one step per observation, for STEPS steps."""

    def __init__(self) -> None:
        self.steps: dict[int, int] = {}
        self.params: dict[int, Mapping[str, ParamValue]] = {}
        self.stopped: set[int] = set()
        self.consumed = 0

    def launch(self, number: int, params: Mapping[str, ParamValue]) -> None:
        self.steps.setdefault(number, 0)
        self.params[number] = params

    def stop(self, number: int) -> None:
        self.stopped.add(number)

    def observe(self, running: Collection[int]) -> Mapping[int, RuntimeTrial]:
        observed = {}
        for number in running:
            if number not in self.steps or number in self.stopped:
                continue
            done = self.steps[number]
            if done < STEPS:
                self.steps[number] = done = done + 1
                self.consumed += 1
            x = float(self.params[number]["x"])
            series = MetricSeries()
            for step in range(done):
                series.add(Observation("loss", step, x + 1 / (step + 1)))
            phase = Phase.SUCCEEDED if done == STEPS else Phase.RUNNING
            observed[number] = RuntimeTrial(number, phase, metrics=series)
        return observed


def tune(early: dict[str, Any]) -> tuple[TuningStudy, CurveBackend]:
    document = manifest(limits={"maxTrials": 12, "parallelTrials": 1})
    document["spec"]["earlyStopping"] = early
    job = parse_tuningjob(document)
    study = TuningStudy(job, optuna.storages.InMemoryStorage())
    backend = CurveBackend()
    tuner = Tuner(job, study, backend, clock=lambda: study.started_at)
    for _ in range(500):
        if tuner.step().completion is not None:
            break
    return study, backend


def test_without_early_stopping_every_trial_runs_to_the_end() -> None:
    study, backend = tune({"algorithm": "none"})
    records = study.records()
    assert [t.state for t in records] == [TrialState.COMPLETE] * 12
    assert backend.consumed == 12 * STEPS
    assert all(t.intermediate == {} for t in records)  # nothing judges them: not journaled


def test_median_stops_trials_worse_than_the_median_and_records_them_pruned() -> None:
    study, backend = tune({"algorithm": "median", "minTrials": 3, "startStep": 1})
    records = study.records()
    pruned = [t for t in records if t.state is TrialState.PRUNED]
    assert len(records) == 12
    assert pruned, "some trials should have been stopped"
    assert backend.consumed < 12 * STEPS
    assert {t.number for t in pruned} == backend.stopped
    for trial in pruned:
        assert trial.reason == TrialReason.PRUNED
        last = max(trial.intermediate)
        assert trial.objective == trial.intermediate[last]  # recorded with its last value
        assert last >= 1  # never judged before startStep
    # the pruned trials were worse than the median of the completed ones at their step
    complete = [t for t in records if t.state is TrialState.COMPLETE]
    assert all(t.number >= 3 for t in pruned)
    assert len(complete) >= 3


def test_hyperband_stops_trials_at_its_rungs() -> None:
    study, backend = tune({"algorithm": "hyperband", "minResource": 1, "maxResource": STEPS})
    records = study.records()
    assert len(records) == 12
    assert any(t.state is TrialState.PRUNED for t in records)
    assert backend.consumed < 12 * STEPS
