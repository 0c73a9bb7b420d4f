"""Intermediate values are journaled for early stopping only, and at most 1,000 per trial."""

from __future__ import annotations

import optuna
from kubetune.metrics.logs import Observation
from kubetune.metrics.series import MAX_INTERMEDIATE_VALUES
from kubetune.search.study import StudyStore
from kubetune.trials import TrialOutcome, TrialState

from tests.unit.manifests import job, manifest, tweak


def test_a_200000_step_bar_journals_a_bounded_number_of_values() -> None:
    storage = optuna.storages.InMemoryStorage()
    body = tweak(manifest(), "spec.earlyStopping", {"algorithm": "median"})
    study = StudyStore(storage).open(job(body))
    study.ask(1)
    steps = [Observation("loss", s, 1.0 / (s + 1)) for s in range(200_000)]
    for start in range(0, len(steps), 10_000):  # as a followed log reports them, in batches
        study.report(0, steps[start : start + 10_000])
    study.tell(0, TrialOutcome(TrialState.COMPLETE, objective=1e-6, intermediate=tuple(steps)))
    [record] = study.records()
    assert len(record.intermediate) == MAX_INTERMEDIATE_VALUES + 1
    assert max(record.intermediate) == 199_999  # the curve ends where the trial did
    assert sorted(record.intermediate)[:3] == [0, 1, 2]


def test_values_already_journaled_are_not_written_again() -> None:
    storage = optuna.storages.InMemoryStorage()
    study = StudyStore(storage).open(job(manifest()))
    study.ask(1)
    steps = tuple(Observation("loss", s, float(s)) for s in range(5))
    study.report(0, steps)
    writes: list[int] = []
    original = storage.set_trial_intermediate_value

    def counted(trial_id: int, step: int, value: float) -> None:
        writes.append(step)
        original(trial_id, step, value)

    storage.set_trial_intermediate_value = counted  # type: ignore[method-assign,assignment]
    study.tell(0, TrialOutcome(TrialState.COMPLETE, objective=4.0, intermediate=steps))
    assert writes == []
