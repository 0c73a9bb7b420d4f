"""Strategies: the registry, settings reaching the sampler, and reproducibility with a seed.

Every strategy runs through ``TuningStudy`` (the path the tuner uses) on in-memory storage:
15 trials asked and told with a deterministic function of the parameters.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping
from typing import Any, get_args

import optuna
import pytest
from kubetune.api import parse_tuningjob
from kubetune.api.spec import Algorithm
from kubetune.search.auto import GP_MAX_DIMENSIONS, AutoSampler, Model
from kubetune.search.samplers import SAMPLER_FACTORIES, build_sampler
from kubetune.search.space import SearchSpace
from kubetune.search.study import TuningStudy
from kubetune.trials import TrialOutcome, TrialState

from tests.unit.manifests import REMOVE, manifest

TRIALS = 15

CONTINUOUS: list[dict[str, Any]] = [
    {"name": "x", "type": "float", "min": -2.0, "max": 2.0},
    {"name": "lr", "type": "float", "min": 1e-4, "max": 1.0, "scale": "log"},
    {"name": "n", "type": "int", "min": 1, "max": 32},
    {"name": "kind", "type": "categorical", "values": ["a", "b", "c"]},
]
FINITE: list[dict[str, Any]] = [
    {"name": "x", "type": "float", "min": -1.0, "max": 1.0, "step": 0.5},
    {"name": "n", "type": "int", "min": 1, "max": 4},
    {"name": "kind", "type": "categorical", "values": ["a", "b"]},
]
ALGORITHMS = list(get_args(Algorithm))


def objective(params: Mapping[str, Any]) -> float:
    """Deterministic in the parameters, so only the sampler decides what comes next."""
    value = (float(params["x"]) - 0.3) ** 2 + abs(int(params["n"]) - 3)
    if "lr" in params:
        value += abs(float(params["lr"]) - 0.01)
    return value + (0.5 if params["kind"] == "a" else 0.0)


def tuning_job(
    algorithm: str,
    seed: int | None,
    settings: dict[str, Any] | None = None,
    name: str = "repro",
    parallel: int = 1,
) -> Any:
    parameters = FINITE if algorithm == "grid" else CONTINUOUS
    limits = {"maxTrials": REMOVE if algorithm == "grid" else 100, "parallelTrials": parallel}
    return parse_tuningjob(
        manifest(
            name=name,
            parameters=parameters,
            algorithm=algorithm,
            seed=seed,
            settings=settings,
            limits=limits,
        )
    )


def run(
    algorithm: str,
    seed: int | None,
    settings: dict[str, Any] | None = None,
    trials: int = TRIALS,
    batch: int = 1,
) -> list[dict[str, Any]]:
    """The parameters suggested for ``trials`` trials, asked ``batch`` at a time."""
    study = TuningStudy(
        tuning_job(algorithm, seed, settings, parallel=batch), optuna.storages.InMemoryStorage()
    )
    suggested: list[dict[str, Any]] = []
    while len(suggested) < trials:
        asked = study.ask(min(batch, trials - len(suggested)))
        for record in asked:
            suggested.append(dict(record.params))
            study.tell(
                record.number, TrialOutcome(TrialState.COMPLETE, objective=objective(record.params))
            )
    return suggested


# Fewer startup trials than trials, so the model-based samplers model for the last few (GP
# least: each of its suggestions fits a Gaussian process, ~0.3 s on a CI core).
MODEL_SETTINGS: dict[str, dict[str, Any]] = {
    "bayesian": {"nStartupTrials": 5},
    "gp": {"nStartupTrials": 12},
    "cmaes": {"nStartupTrials": 2, "popsize": 4},
}


def check_inside_the_space(algorithm: str, params: Mapping[str, Any]) -> None:
    assert set(params) == {"x", "n", "kind"} | ({"lr"} if algorithm != "grid" else set())
    assert -2.0 <= params["x"] <= 2.0
    assert type(params["n"]) is int
    assert 1 <= params["n"] <= 32
    assert params["kind"] in ("a", "b", "c")
    if "lr" in params:
        assert 1e-4 <= params["lr"] <= 1.0


@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_the_seed_decides_the_suggestions(algorithm: str) -> None:
    """Same seed: the same 15 suggestions; another seed: other ones. (One test per strategy,
    so each sequence is computed once: GP is slow.)"""
    settings = MODEL_SETTINGS.get(algorithm)
    first = run(algorithm, seed=11, settings=settings)
    again = run(algorithm, seed=11, settings=settings)
    other = run(algorithm, seed=12, settings=settings)

    assert len(first) == TRIALS
    assert first == again
    assert first != other
    assert first[-3:] != other[-3:]  # also once the model-based samplers model
    for params in first + other:
        check_inside_the_space(algorithm, params)


@pytest.mark.parametrize("algorithm", ["random", "bayesian", "grid"])
def test_same_seed_same_suggestions_in_parallel_batches(algorithm: str) -> None:
    first = run(algorithm, seed=5, settings=MODEL_SETTINGS.get(algorithm), batch=3)
    assert first == run(algorithm, seed=5, settings=MODEL_SETTINGS.get(algorithm), batch=3)


@pytest.mark.parametrize("batch", [1, 4])
def test_grid_visits_every_point_exactly_once(batch: int) -> None:
    """Also a regression test: telling the last grid point used to raise RuntimeError (Optuna's
    GridSampler calls ``study.stop()``, which only works inside ``study.optimize``)."""
    space = SearchSpace.from_parameters(tuning_job("grid", seed=1).spec.parameters)
    size = space.grid_size()
    assert size == 5 * 4 * 2

    visited = run("grid", seed=1, trials=size, batch=batch)

    points = {tuple(sorted(params.items())) for params in visited}
    assert len(points) == len(visited) == size
    assert {p["x"] for p in visited} == {-1.0, -0.5, 0.0, 0.5, 1.0}
    assert {p["n"] for p in visited} == {1, 2, 3, 4}


def test_grid_order_is_shuffled_by_the_seed() -> None:
    size = 40
    orders = {
        tuple(tuple(sorted(p.items())) for p in run("grid", seed=s, trials=size)) for s in (1, 2, 3)
    }
    assert len(orders) == 3


@pytest.mark.parametrize(
    ("algorithm", "startup"),
    [("bayesian", 4), ("gp", 4), ("cmaes", 3)],
)
def test_startup_trials_setting_reaches_the_sampler(algorithm: str, startup: int) -> None:
    """Model-based samplers start with seeded random suggestions: exactly ``nStartupTrials``
    of them match what the random strategy suggests with the same seed."""
    random = run("random", seed=21, trials=startup + 1)
    modelled = run(algorithm, seed=21, settings={"nStartupTrials": startup}, trials=startup + 1)
    assert modelled[:startup] == random[:startup]
    assert modelled[startup] != random[startup]


# --- the registry ---------------------------------------------------------------------------


def test_registry_has_a_factory_for_every_algorithm() -> None:
    assert set(SAMPLER_FACTORIES) == set(ALGORITHMS)


@pytest.mark.parametrize(
    ("algorithm", "settings", "sampler_type"),
    [
        ("random", {}, optuna.samplers.RandomSampler),
        ("grid", {}, optuna.samplers.GridSampler),
        ("bayesian", {}, AutoSampler),
        (
            "bayesian",
            {
                "nStartupTrials": 0,
                "nEiCandidates": 1,
                "multivariate": False,
                "constantLiar": False,
                "gpMaxTrials": 0,
            },
            AutoSampler,
        ),
        ("gp", {}, AutoSampler),
        ("gp", {"nStartupTrials": 0, "deterministicObjective": True}, AutoSampler),
        ("cmaes", {}, optuna.samplers.CmaEsSampler),
        (
            "cmaes",
            {"sigma0": 0.1, "popsize": 6, "useSeparableCma": True},
            optuna.samplers.CmaEsSampler,
        ),
        ("cmaes", {"withMargin": True}, optuna.samplers.CmaEsSampler),
        ("cmaes", {"lrAdapt": True}, optuna.samplers.CmaEsSampler),
    ],
)
def test_every_valid_strategy_builds(
    algorithm: str, settings: dict[str, Any], sampler_type: type
) -> None:
    job = tuning_job(algorithm, seed=1, settings=settings)
    space = SearchSpace.from_parameters(job.spec.parameters)
    assert isinstance(build_sampler(job.spec.strategy, space), sampler_type)


def test_bayesian_settings_are_mapped() -> None:
    job = tuning_job(
        "bayesian",
        seed=1,
        settings={
            "nStartupTrials": 2,
            "nEiCandidates": 7,
            "multivariate": False,
            "constantLiar": False,
        },
    )
    sampler = build_sampler(job.spec.strategy, SearchSpace.from_parameters(job.spec.parameters))
    assert isinstance(sampler, AutoSampler)
    assert sampler._n_startup_trials == 2
    assert sampler._gp_max_trials == 100
    tpe = sampler._tpe
    assert tpe._n_ei_candidates == 7
    assert tpe._multivariate is False
    assert tpe._constant_liar is False


def test_build_sampler_rejects_unknown_settings_from_direct_callers() -> None:
    job = tuning_job("random", seed=1)
    strategy = job.spec.strategy.model_copy(update={"settings": {"nStartupTrials": 3}})
    with pytest.raises(ValueError, match="nStartupTrials"):
        build_sampler(strategy, SearchSpace.from_parameters(job.spec.parameters))


def test_grid_over_a_continuous_space_is_refused_by_the_factory() -> None:
    job = tuning_job("random", seed=1)
    strategy = job.spec.strategy.model_copy(update={"algorithm": "grid"})
    with pytest.raises(ValueError, match="finite search space"):
        build_sampler(strategy, SearchSpace.from_parameters(job.spec.parameters))


def test_gp_is_kubetunes_own_gaussian_process_without_tpe() -> None:
    """`gp` models every trial after startup with the GP, even where `bayesian` would switch to
    TPE (more than GP_MAX_DIMENSIONS parameters), and needs no PyTorch."""
    dimensions = GP_MAX_DIMENSIONS + 1
    space = SearchSpace.from_parameters(
        parse_tuningjob(
            manifest(
                parameters=[
                    {"name": f"x{i}", "type": "float", "min": 0, "max": 1}
                    for i in range(dimensions)
                ]
            )
        ).spec.parameters
    )
    job = tuning_job("gp", seed=1, settings={"nStartupTrials": 2})
    sampler = build_sampler(job.spec.strategy, space)
    assert isinstance(sampler, AutoSampler)
    study = optuna.create_study(sampler=sampler)
    models = []
    for number in range(5):
        trial = study.ask(space.distributions)
        models.append(sampler.last_model)
        value = sum((trial.params[f"x{i}"] - 0.3) ** 2 for i in range(dimensions))
        study.tell(trial, value + number)
    assert models == [Model.RANDOM, Model.RANDOM, Model.GP, Model.GP, Model.GP]
    assert "torch" not in sys.modules
