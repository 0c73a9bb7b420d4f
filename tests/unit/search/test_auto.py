"""The default strategy's sampler: the switching rule, parallel suggestions, and a Gaussian
process that needs no PyTorch."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import optuna
import pytest
from kubetune.search.auto import (
    GP_MAX_DIMENSIONS,
    AutoSampler,
    Model,
    choose_model,
    clip_worst,
    gp_fits_space,
)
from optuna.distributions import (
    BaseDistribution,
    CategoricalDistribution,
    FloatDistribution,
    IntDistribution,
)

REPO_ROOT = Path(__file__).resolve().parents[3]
SPACE: dict[str, BaseDistribution] = {
    "x": FloatDistribution(0.0, 1.0),
    "lr": FloatDistribution(1e-4, 1.0, log=True),
    "n": IntDistribution(1, 8),
    "kind": CategoricalDistribution(["a", "b"]),
}


def objective(params: dict[str, object]) -> float:
    return (float(params["x"]) - 0.3) ** 2 + float(params["lr"]) + (params["kind"] == "a")  # type: ignore[arg-type]


def study_with(sampler: optuna.samplers.BaseSampler, completed: int) -> optuna.Study:
    study = optuna.create_study(sampler=sampler, storage=optuna.storages.InMemoryStorage())
    for _ in range(completed):
        trial = study.ask(SPACE)
        study.tell(trial, objective(trial.params))
    return study


@pytest.mark.parametrize(
    ("asked", "completed", "fits", "model"),
    [
        (0, 0, True, Model.RANDOM),
        (9, 9, True, Model.RANDOM),
        (10, 10, True, Model.GP),
        (10, 7, True, Model.GP),  # parallel trials: the random design is 10 trials
        (12, 0, True, Model.RANDOM),  # nothing to model yet
        (12, 1, True, Model.TPE),  # too little for a GP
        (120, 99, True, Model.GP),
        (120, 100, True, Model.TPE),  # many trials: GP suggestions get slow
        (10, 10, False, Model.TPE),  # large or categorical-heavy space
    ],
)
def test_the_switching_rule(asked: int, completed: int, fits: bool, model: Model) -> None:
    chosen = choose_model(asked, completed, n_startup_trials=10, gp_max_trials=100, use_gp=fits)
    assert chosen is model


def test_after_a_restart_the_limit_counts_the_trials_of_the_current_run() -> None:
    def rule(completed: int, modelled: int, use_gp: bool = True) -> Model:
        return choose_model(
            completed + 10,
            completed,
            n_startup_trials=10,
            gp_max_trials=100,
            use_gp=use_gp,
            modelled=modelled,
        )

    assert rule(140, modelled=40) is Model.GP  # restarted at trial 100
    assert rule(240, modelled=100) is Model.TPE
    assert rule(140, modelled=40, use_gp=False) is Model.TPE


def test_a_search_stuck_past_the_gp_limit_keeps_its_gp_after_the_restart() -> None:
    sampler = AutoSampler(SPACE, seed=0, gp_max_trials=30)
    study = optuna.create_study(sampler=sampler, storage=optuna.storages.InMemoryStorage())
    rng = np.random.default_rng(0)
    # 10 improving results, then 50 equal ones: runs restart at trials 30 and 51, so of the
    # 60 completed trials (past gpMaxTrials 30) the GP's current run has only 9.
    for i in range(60):
        params = {"x": float(rng.random()), "lr": 0.01, "n": 3, "kind": "b"}
        value = 10.0 - i if i < 10 else 5.0
        study.add_trial(optuna.trial.create_trial(params=params, distributions=SPACE, value=value))
    study.ask(SPACE)
    assert sampler.last_model is Model.GP


def test_which_spaces_suit_a_gaussian_process() -> None:
    floats: dict[str, BaseDistribution] = {
        f"x{i}": FloatDistribution(0, 1) for i in range(GP_MAX_DIMENSIONS)
    }
    assert gp_fits_space(floats)
    assert not gp_fits_space({**floats, "one_too_many": FloatDistribution(0, 1)})
    assert gp_fits_space(SPACE)  # 1 categorical of 4
    categorical = {f"c{i}": CategoricalDistribution(["a", "b"]) for i in range(3)}
    assert not gp_fits_space({"x": FloatDistribution(0, 1), **categorical})
    six = {f"x{i}": FloatDistribution(0, 1) for i in range(6)}
    assert not gp_fits_space({**six, **categorical})  # a third categorical: TPE
    assert gp_fits_space({**six, "x6": FloatDistribution(0, 1), "c0": categorical["c0"]})
    two = {"c0": categorical["c0"], "c1": categorical["c1"]}
    assert gp_fits_space({**six, "x6": FloatDistribution(0, 1), **two})  # 2 of 9
    assert not gp_fits_space({})


def test_startup_then_gp_then_tpe() -> None:
    sampler = AutoSampler(SPACE, seed=3, n_startup_trials=4, gp_max_trials=6)
    study = study_with(sampler, 0)
    models = []
    for _ in range(8):
        trial = study.ask(SPACE)
        models.append(sampler.last_model)
        study.tell(trial, objective(trial.params))
    assert models == [Model.RANDOM] * 4 + [Model.GP] * 2 + [Model.TPE] * 2


def test_without_pytorch_it_still_models_with_a_gaussian_process(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(sys.modules, "torch", None)  # makes `import torch` raise ImportError
    sampler = AutoSampler(SPACE, seed=1, n_startup_trials=2)
    assert sampler.uses_gp
    study = study_with(sampler, 4)
    study.ask(SPACE)
    assert sampler.last_model is Model.GP


def test_a_space_unfit_for_a_gaussian_process_is_tpe_after_startup() -> None:
    categorical: dict[str, BaseDistribution] = {
        f"c{i}": CategoricalDistribution(["a", "b", "c"]) for i in range(3)
    }
    sampler = AutoSampler(categorical, seed=1, n_startup_trials=2)
    assert not sampler.uses_gp
    study = optuna.create_study(sampler=sampler)
    for _ in range(4):
        trial = study.ask(categorical)
        study.tell(trial, float(sum(v == "a" for v in trial.params.values())))
    study.ask(categorical)
    assert sampler.last_model is Model.TPE


def test_parallel_suggestions_differ() -> None:
    """Four trials asked while none of them has finished: the GP conditions on the running
    ones, so they are four different points."""
    sampler = AutoSampler(SPACE, seed=5, n_startup_trials=5)
    study = study_with(sampler, 6)
    asked = [study.ask(SPACE) for _ in range(4)]
    assert sampler.last_model is Model.GP
    points = {tuple(sorted(t.params.items())) for t in asked}
    assert len(points) == 4


def test_the_same_seed_suggests_the_same() -> None:
    def run() -> list[dict[str, object]]:
        sampler = AutoSampler(SPACE, seed=9, n_startup_trials=3)
        study = study_with(sampler, 5)
        return [t.params for t in study.trials]

    assert run() == run()


def test_gross_outliers_are_capped_for_the_gaussian_process() -> None:
    values = [54.0, 55.0, 56.0, 60.0, 70.0, 78.0, 5000.0]
    capped = clip_worst(values, optuna.study.StudyDirection.MINIMIZE)
    assert capped[:6] == values[:6]
    assert 78.0 < capped[6] < 1000.0
    maximized = clip_worst([-v for v in values], optuna.study.StudyDirection.MAXIMIZE)
    assert maximized[6] == -capped[6]
    assert clip_worst([1.0, 2.0, 3.0], optuna.study.StudyDirection.MINIMIZE) == [1.0, 2.0, 3.0]


def test_gaussian_process_suggestions_do_not_import_pytorch() -> None:
    """``bayesian`` never needs PyTorch: the operator's memory stays small."""
    code = (
        "import sys, optuna; from kubetune.search.auto import AutoSampler;"
        "from optuna.distributions import FloatDistribution as F;"
        "space = {'x': F(0, 1), 'y': F(0, 1)};"
        "sampler = AutoSampler(space, seed=0);"
        "study = optuna.create_study(sampler=sampler);"
        "[study.tell((t := study.ask(space)), t.params['x']) for _ in range(12)];"
        "print(sampler.last_model, 'torch' in sys.modules)"
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert result.stdout.split() == ["gp", "False"]
