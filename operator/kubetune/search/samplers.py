"""Strategy names → Optuna samplers, through a registry with validated settings.

Settings arrive validated by ``kubetune.api.settings`` and are mapped explicitly onto sampler
arguments here; nothing from the manifest is passed through blindly.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import optuna

from kubetune.api.settings import (
    SETTINGS_MODELS,
    BayesianSettings,
    CmaEsSettings,
    GPSettings,
)
from kubetune.api.spec import Algorithm, SpecModel, Strategy
from kubetune.search.space import SearchSpace

if TYPE_CHECKING:
    from kubetune.search.warping import ScaleChooser


class SamplerUnavailable(RuntimeError):
    """A strategy whose optional dependency is missing."""


@dataclass(frozen=True)
class SamplerContext:
    """What a sampler factory may use beyond its settings."""

    space: SearchSpace
    seed: int | None
    parallel_trials: int


SamplerFactory = Callable[[Any, SamplerContext], optuna.samplers.BaseSampler]


def _random(_: SpecModel, context: SamplerContext) -> optuna.samplers.BaseSampler:
    return optuna.samplers.RandomSampler(seed=context.seed)


class AskTellGridSampler(optuna.samplers.GridSampler):
    """Optuna's GridSampler without its ``study.stop()`` once every point is taken.

    ``study.stop()`` only works inside ``study.optimize`` and raises RuntimeError when the last
    grid trial is told through ask-and-tell, as kubetune does. Here the completion rules end the
    search instead (``SearchSpaceExhausted`` / ``MaxTrialsReached``).
    """

    def after_trial(
        self,
        study: optuna.Study,
        trial: optuna.trial.FrozenTrial,
        state: optuna.trial.TrialState,
        values: Sequence[float] | None,
    ) -> None:
        return None


def _grid(_: SpecModel, context: SamplerContext) -> optuna.samplers.BaseSampler:
    grid = context.space.grid()
    if grid is None:  # validation rejects this first; kept as a guard for direct callers
        raise ValueError("grid search needs a finite search space")
    return AskTellGridSampler(grid, seed=context.seed)


def _bayesian(settings: BayesianSettings, context: SamplerContext) -> optuna.samplers.BaseSampler:
    from kubetune.search.auto import AutoSampler

    return AutoSampler(
        context.space.distributions,
        seed=context.seed,
        n_startup_trials=settings.n_startup_trials,
        gp_max_trials=settings.gp_max_trials,
        n_ei_candidates=settings.n_ei_candidates,
        multivariate=settings.multivariate,
        constant_liar=settings.constant_liar,
        scales=_scales(context.space),
    )


def _scales(space: SearchSpace) -> ScaleChooser | None:
    """What decides the scale of the ``scale: auto`` parameters, if there are any."""
    from kubetune.search.warping import ScaleChooser

    names = space.auto_scaled
    return ScaleChooser(names) if names else None


def _gp(settings: GPSettings, context: SamplerContext) -> optuna.samplers.BaseSampler:
    from kubetune.search.auto import AutoSampler

    # kubetune's own Gaussian process for every modelled trial, however many trials finish or
    # parameters there are: the `bayesian` rule without its switch to TPE.
    return AutoSampler(
        context.space.distributions,
        seed=context.seed,
        n_startup_trials=settings.n_startup_trials,
        gp_max_trials=sys.maxsize,
        deterministic_objective=settings.deterministic_objective,
        use_gp=True,
        gp_only=True,
        scales=_scales(context.space),
    )


def _cmaes(settings: CmaEsSettings, context: SamplerContext) -> optuna.samplers.BaseSampler:
    return optuna.samplers.CmaEsSampler(
        seed=context.seed,
        sigma0=settings.sigma0,
        n_startup_trials=settings.n_startup_trials,
        popsize=settings.popsize,
        use_separable_cma=settings.use_separable_cma,
        with_margin=settings.with_margin,
        lr_adapt=settings.lr_adapt,
        # Categorical parameters fall back to random sampling; say nothing per trial.
        independent_sampler=optuna.samplers.RandomSampler(seed=context.seed),
        warn_independent_sampling=False,
    )


CONSTRAINT_BLIND: frozenset[Algorithm] = frozenset({"cmaes"})
"""Strategies whose sampler ignores the constraint values stored with each trial (Optuna's
``constraints`` system attribute, which TPE, NSGA-II, Optuna's GPSampler and kubetune's
Gaussian process read): they are shown infeasible trials as the study's worst result instead
(``kubetune.search.views.ConstrainedSampler``). Random and grid search ignore results anyway."""


SAMPLER_FACTORIES: dict[Algorithm, SamplerFactory] = {
    "random": _random,
    "grid": _grid,
    "bayesian": _bayesian,
    "gp": _gp,
    "cmaes": _cmaes,
}


def build_sampler(
    strategy: Strategy, space: SearchSpace, parallel_trials: int = 1
) -> optuna.samplers.BaseSampler:
    """The Optuna sampler for a validated strategy."""
    settings = SETTINGS_MODELS[strategy.algorithm].model_validate(strategy.settings)
    context = SamplerContext(space=space, seed=strategy.seed, parallel_trials=parallel_trials)
    return SAMPLER_FACTORIES[strategy.algorithm](settings, context)
