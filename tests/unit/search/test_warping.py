"""``scale: auto``: exploration covers both scales, and the Gaussian process picks the encoding
the results support."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import optuna
import pytest
from kubetune.api import SpecError, parse_tuningjob
from kubetune.search.encoding import Encoding
from kubetune.search.gp_sampler import GaussianProcessSampler
from kubetune.search.study import TuningStudy
from kubetune.search.targets import model_targets
from kubetune.search.warping import MixedScaleSampler, ScaleChooser
from kubetune.trials import TrialOutcome, TrialState
from optuna.distributions import FloatDistribution

from tests.unit.manifests import manifest

LR = {"name": "lr", "type": "float", "min": 1e-6, "max": 1.0, "scale": "auto"}
X = {"name": "x", "type": "float", "min": 0.0, "max": 1.0}


def auto_job(*parameters: dict[str, Any], algorithm: str = "bayesian") -> Any:
    return parse_tuningjob(manifest(parameters=list(parameters), algorithm=algorithm, seed=3))


@pytest.mark.parametrize(
    ("change", "error"),
    [
        ({"type": "int", "min": 1, "max": 9}, "scale: auto is only for type float"),
        ({"step": 0.1}, "step: not supported with scale auto"),
    ],
)
def test_auto_is_for_continuous_floats(change: dict[str, Any], error: str) -> None:
    with pytest.raises(SpecError) as caught:
        auto_job({**LR, **change})
    assert [str(e) for e in caught.value.errors] == [f"spec.parameters[0].{error}"]


def test_unmodelled_draws_cover_both_scales(storage: optuna.storages.BaseStorage) -> None:
    study = TuningStudy(auto_job(LR, X, algorithm="random"), storage)
    assert isinstance(study.study.sampler, MixedScaleSampler)
    values = [float(r.params["lr"]) for r in study.ask(200)]
    small = sum(1 for v in values if v < 1e-2)  # uniform alone: 1% of the draws
    assert 60 <= small <= 140
    assert all(1e-6 <= v <= 1.0 for v in values)


def log_optimal(p: dict[str, Any]) -> float:
    return (math.log10(p["lr"]) + 4) ** 2 + (p["x"] - 0.3) ** 2


def linear_optimal(p: dict[str, Any]) -> float:
    return (10 * (p["lr"] - 0.6)) ** 2 + (p["x"] - 0.3) ** 2


@pytest.mark.parametrize(
    ("objective", "small_draws"), [(log_optimal, (45, 90)), (linear_optimal, (0, 25))]
)
def test_unmodelled_draws_follow_the_evidence_once_there_is_some(
    storage: optuna.storages.BaseStorage, objective: Any, small_draws: tuple[int, int]
) -> None:
    study = TuningStudy(auto_job(LR, X, algorithm="random"), storage)
    for record in study.ask(8):
        value = objective(record.params)
        study.tell(record.number, TrialOutcome(TrialState.COMPLETE, value, {"loss": value}))

    values = [float(r.params["lr"]) for r in study.ask(100)]

    low, high = small_draws  # log-uniform: 2/3 of the draws below 1e-2; uniform: 1%
    assert low <= sum(1 for v in values if v < 1e-2) <= high


def completed(objective: Any, count: int, seed: int) -> list[optuna.trial.FrozenTrial]:
    rng = np.random.default_rng(seed)
    trials = []
    for number in range(count):
        lr = math.exp(rng.uniform(math.log(1e-6), 0.0)) if number % 2 else rng.uniform(1e-6, 1)
        params = {"lr": float(lr), "x": float(rng.uniform())}
        trials.append(
            optuna.trial.create_trial(
                params=params,
                distributions={"lr": FloatDistribution(1e-6, 1.0), "x": FloatDistribution(0, 1)},
                value=objective(params),
            )
        )
    return trials


@pytest.mark.parametrize(
    ("objective", "expected"),
    [
        (log_optimal, "log"),
        (linear_optimal, "linear"),
    ],
)
def test_the_process_picks_the_scale_the_results_support(objective: Any, expected: str) -> None:
    study = optuna.create_study()
    trials = completed(objective, 16, seed=1)
    for trial in trials:
        study.add_trial(trial)
    encoding = Encoding(("lr", "x"), (FloatDistribution(1e-6, 1.0), FloatDistribution(0, 1)))
    chooser = ScaleChooser({"lr"})

    chosen = chooser.choose(encoding, study.trials, model_targets(study, study.trials))

    assert chooser.last_choice == {"lr": expected}
    assert chosen.distributions[0] == FloatDistribution(1e-6, 1.0, log=expected == "log")
    assert chosen.distributions[1] == FloatDistribution(0, 1)  # not auto: untouched


def test_the_bayesian_strategy_hands_the_chooser_to_its_process(
    storage: optuna.storages.BaseStorage,
) -> None:
    study = TuningStudy(auto_job(LR, X), storage)
    for _ in range(14):
        (record,) = study.ask(1)
        value = (math.log10(float(record.params["lr"])) + 4) ** 2
        study.tell(record.number, TrialOutcome(TrialState.COMPLETE, value, {"loss": value}))
    mixed = study.study.sampler
    assert isinstance(mixed, MixedScaleSampler)
    gp = mixed.sampler._gp_sampler()  # type: ignore[attr-defined]
    assert isinstance(gp, GaussianProcessSampler)
    assert gp._scales is not None
    assert gp._scales.last_choice == {"lr": "log"}
