"""The NumPy Gaussian-process sampler: encoding, suggestions, parallel trials, directions."""

from __future__ import annotations

import importlib.abc
import math
import sys
from typing import Any

import numpy as np
import optuna
import pytest
from kubetune.search import gp_sampler
from kubetune.search.encoding import decode_value, encode_value
from kubetune.search.gp_sampler import GaussianProcessSampler
from kubetune.search.targets import warp
from optuna.distributions import (
    BaseDistribution,
    CategoricalDistribution,
    FloatDistribution,
    IntDistribution,
)

SPACE: dict[str, BaseDistribution] = {
    "x": FloatDistribution(-5.0, 10.0),
    "lr": FloatDistribution(1e-5, 1.0, log=True),
    "depth": IntDistribution(2, 12, step=2),
    "layers": IntDistribution(1, 64, log=True),
    "dropout": FloatDistribution(0.0, 0.5, step=0.1),
    "kind": CategoricalDistribution(["relu", "tanh", "gelu"]),
}


def objective(params: dict[str, Any]) -> float:
    return (
        (params["x"] - 2.0) ** 2
        + (math.log10(params["lr"]) + 3) ** 2
        + abs(params["depth"] - 6)
        + (params["kind"] != "tanh")
    )


@pytest.mark.parametrize(
    ("distribution", "value"),
    [
        (SPACE["x"], 2.5),
        (SPACE["lr"], 1e-3),
        (SPACE["depth"], 8),
        (SPACE["layers"], 16),
        (SPACE["dropout"], 0.3),
        (SPACE["kind"], "gelu"),
    ],
)
def test_encoding_round_trips(distribution: BaseDistribution, value: Any) -> None:
    u = encode_value(distribution, value)
    assert 0.0 <= u <= 2.0  # a category's index, else a point of [0, 1]
    assert decode_value(distribution, u) == pytest.approx(value)


def test_decoding_rounds_to_the_grid_and_stays_in_bounds() -> None:
    assert decode_value(SPACE["depth"], 0.46) == 6  # 2 + 0.46 * 10 = 6.6 → the nearest step, 6
    assert decode_value(SPACE["dropout"], 0.55) == pytest.approx(0.3)  # 0.275 → 0.3
    assert decode_value(SPACE["x"], 1.3) == 10.0
    assert isinstance(decode_value(SPACE["layers"], 0.5), int)


def run(sampler: optuna.samplers.BaseSampler, trials: int, seed_trials: int = 8) -> list[float]:
    study = optuna.create_study(sampler=sampler)
    startup = optuna.samplers.RandomSampler(seed=0)
    values = []
    for number in range(trials):
        study.sampler = startup if number < seed_trials else sampler
        trial = study.ask(SPACE)
        value = objective(trial.params)
        study.tell(trial, value)
        values.append(value)
    return values


def test_it_finds_a_good_region_far_sooner_than_random() -> None:
    modelled = min(run(GaussianProcessSampler(seed=1), 30))
    randomly = min(run(optuna.samplers.RandomSampler(seed=1), 30))
    assert modelled < 0.5 * randomly
    assert modelled < 1.5


def test_maximizing_looks_for_large_values() -> None:
    sampler = GaussianProcessSampler(seed=2)
    space: dict[str, BaseDistribution] = {"x": FloatDistribution(0.0, 1.0)}
    study = optuna.create_study(direction="maximize", sampler=sampler)
    for x in (0.1, 0.5, 0.9):
        study.enqueue_trial({"x": x})
    for _ in range(8):
        trial = study.ask(space)
        study.tell(trial, -((trial.params["x"] - 0.7) ** 2))
    assert abs(study.best_params["x"] - 0.7) < 0.05


def test_running_trials_spread_parallel_suggestions() -> None:
    sampler = GaussianProcessSampler(seed=3)
    study = optuna.create_study(sampler=sampler)
    for _ in range(6):
        trial = study.ask(SPACE)
        study.tell(trial, objective(trial.params))
    asked = [study.ask(SPACE) for _ in range(4)]
    points = {(round(t.params["x"], 3), round(t.params["lr"], 6)) for t in asked}
    assert len(points) == 4


def test_a_running_trial_expected_to_beat_the_best_raises_the_bar(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    sampler = GaussianProcessSampler(seed=5)
    space: dict[str, BaseDistribution] = {"x": FloatDistribution(0.0, 1.0)}
    study = optuna.create_study(sampler=sampler)
    for x in (0.1, 0.3, 0.7, 0.9):
        study.enqueue_trial({"x": x})
        trial = study.ask(space)
        study.tell(trial, (x - 0.5) ** 2)
    study.enqueue_trial({"x": 0.5})
    study.ask(space)  # running, where the model expects better than any finished trial
    bars: list[float] = []
    maximize = GaussianProcessSampler._maximize

    def record(self: GaussianProcessSampler, models: Any, encoding: Any, **options: Any) -> Any:
        ((gp, best),) = models  # the believer: one model
        bars.append(best)
        mean, _ = gp.predict(np.array([[0.5]]))
        assert best == pytest.approx(float(mean[0]))  # the believed value is the incumbent
        assert best > float(gp.y[:4].max())  # above every finished trial's
        return maximize(self, models, encoding, **options)

    monkeypatch.setattr(GaussianProcessSampler, "_maximize", record)
    suggested = study.ask(space).params["x"]
    assert len(bars) == 1
    assert abs(suggested - 0.5) > 0.02  # not crowding the running trial


def test_the_same_seed_suggests_the_same() -> None:
    assert run(GaussianProcessSampler(seed=4), 14) == run(GaussianProcessSampler(seed=4), 14)


def test_with_fewer_than_two_results_it_samples_independently() -> None:
    sampler = GaussianProcessSampler(seed=5)
    study = optuna.create_study(sampler=sampler)
    trial = study.ask(SPACE)  # nothing to model: the independent (random) sampler
    assert set(trial.params) == set(SPACE)


class _NoTorch(importlib.abc.MetaPathFinder):
    """Makes ``import torch`` raise ImportError. (``sys.modules["torch"] = None`` would too, but
    libraries that look for torch in ``sys.modules`` before using it, as scipy's array API
    layer does, would then find the name and fail on the ``None``.)"""

    def find_spec(self, name: str, path: Any, target: Any = None) -> None:
        if name == "torch" or name.startswith("torch."):
            raise ImportError(f"{name} is blocked by this test")


def test_it_needs_no_pytorch(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delitem(sys.modules, "torch", raising=False)
    monkeypatch.setattr(sys, "meta_path", [_NoTorch(), *sys.meta_path])
    assert min(run(GaussianProcessSampler(seed=6), 12)) < np.inf


def test_the_linear_algebra_runs_on_one_blas_thread(monkeypatch: pytest.MonkeyPatch) -> None:
    from kubetune.search.gaussian_process import GaussianProcess
    from threadpoolctl import threadpool_info

    seen: list[int] = []
    fit = GaussianProcess.fit

    def recording_fit(*args: Any, **kwargs: Any) -> Any:
        seen.extend(pool["num_threads"] for pool in threadpool_info() if pool["user_api"] == "blas")
        return fit(*args, **kwargs)

    monkeypatch.setattr(GaussianProcess, "fit", recording_fit)
    run(GaussianProcessSampler(seed=7), 10)
    assert seen
    assert set(seen) == {1}


@pytest.mark.filterwarnings("error::RuntimeWarning")  # no inf - inf, no NaN on the way
def test_infinite_results_count_as_the_worst_without_breaking_the_fit() -> None:
    sampler = GaussianProcessSampler(seed=8)
    space: dict[str, BaseDistribution] = {"x": FloatDistribution(0.0, 1.0)}
    study = optuna.create_study(sampler=sampler)
    for x, value in ((0.1, math.inf), (0.3, 1.0), (0.5, 0.5), (0.9, math.inf)):
        study.enqueue_trial({"x": x})
        trial = study.ask(space)
        study.tell(trial, value)
    suggested = study.ask(space).params["x"]
    assert 0.2 < suggested < 0.8  # away from where the loss diverged


def test_warping_keeps_the_order_and_standardizes() -> None:
    # A loss as tuning makes them: most configurations bad, a long tail, a few good ones.
    rng = np.random.default_rng(3)
    values = -np.exp(rng.normal(4.0, 1.5, size=40))  # negated: the process maximizes
    warped = warp(values)
    assert np.array_equal(np.argsort(warped), np.argsort(values))
    assert abs(warped.mean()) < 1e-9
    assert abs(warped.std() - 1.0) < 1e-9
    # The tail is pulled in: the worst value is no longer many deviations from the rest.
    plain = (values - values.mean()) / values.std()
    assert warped.min() > plain.min()


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        ([2.0, 2.0, 2.0], [0.0, 0.0, 0.0]),  # nothing to learn, no division by zero
        ([1.0, 3.0], [-1.0, 1.0]),  # too few to fit an exponent: standardized only
    ],
)
def test_warping_degenerate_values(values: list[float], expected: list[float]) -> None:
    assert warp(np.array(values)).tolist() == pytest.approx(expected)


@pytest.mark.filterwarnings("error::RuntimeWarning")
def test_warping_survives_an_extreme_outlier() -> None:
    values = np.array([1e300, 1.0, 2.0, 3.0, 2.5])
    warped = warp(values)
    assert np.isfinite(warped).all()
    assert int(warped.argmax()) == 0


def parallel_batch(monkeypatch: pytest.MonkeyPatch, fantasies: int, seed: int) -> list[Any]:
    monkeypatch.setattr(gp_sampler, "PENDING_FANTASIES", fantasies)
    study = optuna.create_study(sampler=GaussianProcessSampler(seed=seed))
    for _ in range(8):
        trial = study.ask(SPACE)
        study.tell(trial, objective(trial.params))
    return [study.ask(SPACE).params for _ in range(4)]  # four in flight at once


@pytest.mark.parametrize("fantasies", [0, 8])
def test_a_batch_of_running_trials_gets_four_different_points(
    monkeypatch: pytest.MonkeyPatch, fantasies: int
) -> None:
    batch = parallel_batch(monkeypatch, fantasies, seed=2)
    distinct = {
        tuple(round(float(v), 3) if not isinstance(v, str) else v for v in p.values())
        for p in batch
    }
    assert len(distinct) == 4


def test_fantasy_batches_are_reproducible_with_a_seed(monkeypatch: pytest.MonkeyPatch) -> None:
    assert parallel_batch(monkeypatch, 8, seed=6) == parallel_batch(monkeypatch, 8, seed=6)


def test_the_model_learns_which_category_is_good() -> None:
    # Only the category matters: after a few trials of each, the GP asks for the good one.
    sampler = GaussianProcessSampler(seed=1)
    space = {"x": FloatDistribution(0.0, 1.0), "kind": CategoricalDistribution(["a", "b", "c"])}
    study = optuna.create_study(sampler=sampler)
    for i in range(9):
        study.enqueue_trial({"x": (i * 0.37) % 1.0, "kind": "abc"[i % 3]})
        trial = study.ask(space)
        study.tell(trial, 0.0 if trial.params["kind"] == "b" else 1.0 + trial.params["x"])
    asked = [study.ask(space) for _ in range(3)]
    for trial in asked:
        study.tell(trial, 0.0 if trial.params["kind"] == "b" else 1.0)
    assert [t.params["kind"] for t in asked].count("b") >= 2
