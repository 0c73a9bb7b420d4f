"""Samplers of a multi-objective study (``spec.objectives``): strategy names → Optuna samplers.

- ``bayesian`` (the default): ParEGO on kubetune's own Gaussian process
  (:mod:`kubetune.search.parego`) where the single-objective rule would use the GP (a small,
  mostly numeric space, fewer than ``gpMaxTrials`` completed trials), Optuna's multi-objective
  TPE otherwise. Measured against NSGA-II and TPE on ZDT1, ZDT2 and DTLZ2 in
  ``bench/multi_objective.py`` (figures in ``bench/results.md``).
- ``gp``: ParEGO on the GP for every modelled trial.
- ``random`` and ``grid``: as for one objective.

``spec.constraints``: :class:`~kubetune.search.study.TuningStudy` stores each result's
constraint values as the trial's Optuna ``constraints`` (what ``Trial.set_constraint`` stores,
Optuna 5; ``constraints_func`` is deprecated there); TPE reads them from every trial and
ParEGO's Gaussian process models them (constrained expected improvement,
:mod:`kubetune.search.feasibility`).
CMA-ES models a single value: validation refuses it with ``spec.objectives``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import optuna

from kubetune.api.settings import SETTINGS_MODELS, BayesianSettings, GPSettings
from kubetune.api.spec import Strategy
from kubetune.search.samplers import AskTellGridSampler
from kubetune.search.space import SearchSpace

if TYPE_CHECKING:
    from kubetune.search.warping import ScaleChooser


def build_multi_objective_sampler(
    strategy: Strategy, space: SearchSpace
) -> optuna.samplers.BaseSampler:
    """The Optuna sampler of a validated multi-objective strategy."""
    settings = SETTINGS_MODELS[strategy.algorithm].model_validate(strategy.settings)
    seed = strategy.seed
    # SciPy (the GP): imported only when a study needs it, as for one objective.
    from kubetune.search.auto import gp_fits_space
    from kubetune.search.parego import ParEgoSampler

    if isinstance(settings, BayesianSettings):
        tpe = optuna.samplers.TPESampler(
            seed=seed,
            n_startup_trials=settings.n_startup_trials,
            n_ei_candidates=settings.n_ei_candidates,
            multivariate=settings.multivariate,
            constant_liar=settings.constant_liar,
        )
        fits = gp_fits_space(space.distributions)
        if not fits or settings.gp_max_trials <= settings.n_startup_trials:
            return tpe
        return ParEgoSampler(
            seed=seed,
            n_startup_trials=settings.n_startup_trials,
            gp_max_trials=settings.gp_max_trials,
            fallback=tpe,
            scales=_scales(space),
        )
    if isinstance(settings, GPSettings):
        return ParEgoSampler(
            seed=seed,
            n_startup_trials=settings.n_startup_trials,
            deterministic_objective=settings.deterministic_objective,
            scales=_scales(space),
        )
    if strategy.algorithm == "grid":
        grid = space.grid()
        if grid is None:  # validation rejects this first
            raise ValueError("grid search needs a finite search space")
        return AskTellGridSampler(grid, seed=seed)
    if strategy.algorithm == "random":
        return optuna.samplers.RandomSampler(seed=seed)
    raise ValueError(f"strategy {strategy.algorithm} optimizes a single objective")


def _scales(space: SearchSpace) -> ScaleChooser | None:
    from kubetune.search.warping import ScaleChooser

    names = space.auto_scaled
    return ScaleChooser(names) if names else None
