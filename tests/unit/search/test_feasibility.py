"""Constrained expected improvement in kubetune's Gaussian process (``spec.constraints``)."""

from __future__ import annotations

import numpy as np
import optuna
import pytest
from kubetune.search import feasibility
from kubetune.search.gp_sampler import GaussianProcessSampler
from optuna.distributions import FloatDistribution
from optuna.trial import FrozenTrial

X = FloatDistribution(0.0, 1.0)


def trial(x: float, value: float, constraints: list[float] | None) -> FrozenTrial:
    attrs = {} if constraints is None else {"constraints": constraints}
    return optuna.trial.create_trial(
        params={"x": x}, distributions={"x": X}, value=value, system_attrs=attrs
    )


def test_constraint_values_are_read_per_trial() -> None:
    trials = [trial(0.1, 1.0, [0.5, -1.0]), trial(0.2, 2.0, [-0.5, -2.0])]
    values = feasibility.constraint_values(trials)
    assert values is not None
    assert values.tolist() == [[0.5, -1.0], [-0.5, -2.0]]
    assert feasibility.feasible(values, 2).tolist() == [False, True]
    assert feasibility.constraint_values([trial(0.1, 1.0, None)]) is None
    assert feasibility.feasible(None, 2).tolist() == [True, True]


def test_the_incumbent_and_the_ranking_put_feasible_trials_first() -> None:
    y = np.array([3.0, 1.0, 2.0, 0.0])  # the process maximizes: trial 0 looks best
    constraints = np.array([[1.0], [-1.0], [-0.5], [0.2]])
    satisfied = feasibility.feasible(constraints, 4)
    assert feasibility.incumbent(y, satisfied) == 2.0
    assert feasibility.incumbent(y, np.zeros(4, dtype=bool)) is None
    assert feasibility.ranking(y, constraints).tolist() == [2, 1, 3, 0]
    assert feasibility.ranking(y, None).tolist() == [0, 2, 1, 3]


def test_restarts_count_an_infeasible_result_as_the_worst() -> None:
    satisfied = np.array([True, False, True])
    assert feasibility.penalized([0.5, 0.1, 0.9], satisfied) == [0.5, 0.9, 0.9]
    assert feasibility.penalized([0.5, 0.1], np.array([True, True])) == [0.5, 0.1]


def test_the_probability_of_feasibility_follows_the_constraint() -> None:
    x = np.linspace(0, 1, 9)[:, None]
    constraints = 0.5 - x  # feasible for x >= 0.5
    model = feasibility.Feasibility.fit(x, constraints, np.array([False]))
    low, high = np.exp(model.log_probability(np.array([[0.1], [0.9]])))
    assert low < 0.05
    assert high > 0.95


def constrained_study(points: list[tuple[float, float, float]]) -> optuna.Study:
    """Minimize x; trials given as (x, value, constraint value)."""
    study = optuna.create_study()
    for x, value, constraint in points:
        study.add_trial(trial(x, value, [constraint]))
    return study


def suggest(study: optuna.Study, seed: int) -> float:
    sampler = GaussianProcessSampler(seed=seed, restarts=False)
    study.sampler = sampler
    suggested = study.ask({"x": X})
    return float(suggested.params["x"])


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_suggestions_move_to_the_feasible_region(seed: int) -> None:
    # minimize x subject to x >= 0.6: the unconstrained optimum (x = 0) is infeasible.
    xs = [0.05, 0.2, 0.35, 0.5, 0.7, 0.85, 0.95]
    study = constrained_study([(x, x, 0.6 - x) for x in xs])
    suggested = suggest(study, seed)
    assert 0.55 <= suggested <= 0.7


@pytest.mark.parametrize("seed", [0, 1])
def test_with_no_feasible_trial_yet_the_search_looks_for_one(seed: int) -> None:
    # feasible only for x >= 0.8, and every trial so far is below it.
    xs = [0.05, 0.2, 0.35, 0.5, 0.6]
    study = constrained_study([(x, x, 0.8 - x) for x in xs])
    assert suggest(study, seed) >= 0.7


def test_the_gradient_of_the_probability_of_feasibility_is_exact() -> None:
    rng = np.random.default_rng(4)
    x = rng.uniform(size=(12, 2))
    constraints = np.column_stack([0.5 - x[:, 0], x[:, 0] + x[:, 1] - 1.2])
    model = feasibility.Feasibility.fit(x, constraints, np.array([False, False]))
    point = np.array([0.45, 0.6])
    value, gradient = model.log_probability_and_gradient(point)
    assert value == pytest.approx(float(model.log_probability(point[None, :])[0]))
    step = 1e-6
    for axis in range(2):
        moved = point.copy()
        moved[axis] += step
        numeric = (float(model.log_probability(moved[None, :])[0]) - value) / step
        assert gradient[axis] == pytest.approx(numeric, rel=1e-3, abs=1e-5)
