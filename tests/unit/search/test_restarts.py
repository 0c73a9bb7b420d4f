"""Restarts of a stagnating search: where the current run begins, and the sampler using it."""

from __future__ import annotations

import optuna
import pytest
from kubetune.search.gp_sampler import RESTART_DESIGN, GaussianProcessSampler
from kubetune.search.restarts import current_run_start


def test_a_search_that_keeps_improving_never_restarts() -> None:
    assert current_run_start([10.0 - i for i in range(100)], patience=5) == 0


def test_a_run_without_clear_improvement_for_patience_results_ends() -> None:
    values = [5.0, 3.0, 1.0] + [2.0] * 4
    assert current_run_start(values, patience=5) == 0
    assert current_run_start([*values, 2.0], patience=5) == 8  # 5 stale results: a new run
    assert current_run_start([*values, 2.0, 9.0], patience=5) == 8


def test_a_tiny_improvement_is_not_progress() -> None:
    # Polishing the basin's floor by a millionth of the spread does not reset the count.
    values = [10.0, 0.0] + [-1e-6 * (i + 1) for i in range(5)]
    assert current_run_start(values, patience=5) == 7


def test_the_new_run_has_its_own_best() -> None:
    # After the restart at index 4, 8.0 is an improvement of the new run: no second restart.
    values = [1.0, 2.0, 2.0, 2.0, 9.0, 8.0, 7.0]
    assert current_run_start(values, patience=3) == 4


def flat_then_study(stale: int) -> optuna.Study:
    study = optuna.create_study(sampler=GaussianProcessSampler(seed=0))
    distributions: dict[str, optuna.distributions.BaseDistribution] = {
        "x": optuna.distributions.FloatDistribution(0.0, 1.0)
    }
    values = [3.0, 2.0, 1.0] + [1.5] * stale
    for i, value in enumerate(values):
        study.add_trial(
            optuna.trial.create_trial(
                params={"x": 0.5 + 0.001 * i}, distributions=distributions, value=value
            )
        )
    return study


@pytest.mark.parametrize("restarts", [True, False])
def test_after_a_restart_the_sampler_begins_with_random_trials(
    restarts: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    study = flat_then_study(stale=20)  # 20 stale results: the default patience
    sampler = study.sampler
    assert isinstance(sampler, GaussianProcessSampler)
    sampler._restarts = restarts
    modelled = []
    real = GaussianProcessSampler._suggest

    def spy(self: GaussianProcessSampler, *args: object) -> dict[str, object]:
        modelled.append(True)
        return real(self, *args)  # type: ignore[arg-type]

    monkeypatch.setattr(GaussianProcessSampler, "_suggest", spy)
    for _ in range(RESTART_DESIGN + 2):
        trial = study.ask()
        trial.suggest_float("x", 0.0, 1.0)
        study.tell(trial, 2.0)
    if restarts:
        # The new run's random design, then (with two of its results) the model again.
        assert len(modelled) == 2
    else:
        assert len(modelled) == RESTART_DESIGN + 2
