"""Parallel suggestions (``search.batch``): the trust region around the best trial while trials
run, and the properties a batch relies on (distinct, spread, reproducible, aware of the running
trials)."""

from __future__ import annotations

from typing import Any

import numpy as np
import optuna
import pytest
from kubetune.search import batch
from kubetune.search.gaussian_process import Hyperparameters
from kubetune.search.gp_sampler import GaussianProcessSampler
from optuna.distributions import BaseDistribution, FloatDistribution

SPACE: dict[str, BaseDistribution] = {
    "a": FloatDistribution(0.0, 1.0),
    "b": FloatDistribution(0.0, 1.0),
}


def bowl(params: dict[str, Any]) -> float:
    return (params["a"] - 0.3) ** 2 + 2 * (params["b"] - 0.6) ** 2


def hyper(lengthscales: list[float]) -> Hyperparameters:
    return Hyperparameters(1.0 / np.array(lengthscales) ** 2, 1.0, 0.01)


def test_the_box_is_half_a_lengthscale_to_each_side_clipped_to_the_space() -> None:
    box = batch.trust_region(hyper([0.2, 0.4]), np.array([0.5, 0.1]), np.array([False, False]))
    assert box is not None
    low, high = box
    assert low == pytest.approx([0.4, 0.0])  # 0.1 - 0.2 is clipped at the edge
    assert high == pytest.approx([0.6, 0.3])


def test_long_lengthscales_leave_the_whole_space_and_categories_stay_free() -> None:
    box = batch.trust_region(hyper([5.0, 1.0]), np.array([0.5, 2.0]), np.array([False, True]))
    assert box is not None
    low, high = box
    assert (low[0], high[0]) == (0.0, 1.0)
    assert (low[1], high[1]) == (-np.inf, np.inf)


def test_no_width_means_no_box(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(batch, "TRUST_REGION_WIDTH", None)
    assert batch.trust_region(hyper([0.1]), np.array([0.5]), np.array([False])) is None


def study_with_results(seed: int, results: int = 10) -> optuna.Study:
    study = optuna.create_study(sampler=GaussianProcessSampler(seed=seed))
    rng = np.random.default_rng(seed)
    for _ in range(results):
        study.enqueue_trial({"a": float(rng.random()), "b": float(rng.random())})
        trial = study.ask(SPACE)
        study.tell(trial, bowl(trial.params))
    return study


def boxes_seen(monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    """Records the box each acquisition search was confined to (None: the whole space)."""
    seen: list[Any] = []
    maximize = GaussianProcessSampler._maximize

    def record(
        self: GaussianProcessSampler, models: Any, encoding: Any, starts: Any, **options: Any
    ) -> Any:
        box = options.get("box")
        seen.append(box)
        point = maximize(self, models, encoding, starts, **options)
        if box is not None:  # the point found is inside the box
            assert np.all(point >= box[0] - 1e-12)
            assert np.all(point <= box[1] + 1e-12)
        return point

    monkeypatch.setattr(GaussianProcessSampler, "_maximize", record)
    return seen


def test_one_trial_at_a_time_searches_the_whole_space(monkeypatch: pytest.MonkeyPatch) -> None:
    study = study_with_results(seed=1)
    seen = boxes_seen(monkeypatch)
    study.tell(study.ask(SPACE), 1.0)
    study.ask(SPACE)
    assert seen == [None, None]


def test_with_trials_running_the_search_stays_near_the_best_trial(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    study = study_with_results(seed=2)
    seen = boxes_seen(monkeypatch)
    asked = [study.ask(SPACE) for _ in range(4)]  # four in flight at once
    assert seen[0] is None  # nothing was running yet
    best = np.array([study.best_params["a"], study.best_params["b"]])
    for box, trial in zip(seen[1:], asked[1:], strict=True):
        assert box is not None
        low, high = box
        assert np.all(low <= best)
        assert np.all(best <= high)
        assert np.all(high - low < 1.0)  # a region, not the whole space
        point = np.array([trial.params["a"], trial.params["b"]])
        assert np.all(point >= low - 1e-9)
        assert np.all(point <= high + 1e-9)


def parallel_batch(seed: int, size: int = 4) -> list[tuple[float, float]]:
    study = study_with_results(seed)
    return [(t.params["a"], t.params["b"]) for t in (study.ask(SPACE) for _ in range(size))]


@pytest.mark.parametrize("seed", [0, 3, 7])
def test_a_batch_of_eight_is_eight_distinct_points(seed: int) -> None:
    points = np.array(parallel_batch(seed, size=8))
    gaps = np.sqrt(((points[:, None, :] - points[None, :, :]) ** 2).sum(axis=-1))
    np.fill_diagonal(gaps, np.inf)
    # Near the optimum of a smooth bowl the model is sure of, the points may be close, but
    # never the same point twice, and the batch is not one spot.
    assert gaps.min() > 1e-4
    assert gaps[np.isfinite(gaps)].max() > 0.01


def test_batches_are_reproducible_with_a_seed() -> None:
    assert parallel_batch(5) == parallel_batch(5)
    assert parallel_batch(5) != parallel_batch(6)


def test_the_running_trials_change_the_suggestion() -> None:
    study = study_with_results(seed=4)
    alone = GaussianProcessSampler(seed=9)
    first = study.ask(SPACE)  # left running
    study.sampler = alone
    with_running = study.ask(SPACE).params
    study = study_with_results(seed=4)
    study.sampler = GaussianProcessSampler(seed=9)
    without = study.ask(SPACE).params
    assert with_running != without
    # and not on top of the running trial either
    assert (
        abs(with_running["a"] - first.params["a"]) + abs(with_running["b"] - first.params["b"])
        > 0.005
    )
