"""Per-algorithm ``spec.strategy.settings``: each algorithm accepts its own keys and no others.

Katib passes user settings straight into sampler constructors; we validate them here and map
them explicitly in ``kubetune.search.samplers``.
"""

from __future__ import annotations

from pydantic import Field

from kubetune.api.spec import Algorithm, SpecModel


class RandomSettings(SpecModel):
    """Uniform random search; nothing to tune."""


class GridSettings(SpecModel):
    """Exhaustive search over a finite space, in a seeded shuffled order."""


class BayesianSettings(SpecModel):
    """A Gaussian process while trials are few and the space mostly numeric, TPE otherwise
    (the rule is ``kubetune.search.auto``)."""

    n_startup_trials: int = Field(default=10, ge=0, description="Random trials before modelling")
    gp_max_trials: int = Field(
        default=100,
        ge=0,
        le=1000,
        description=(
            "Completed trials after which TPE takes over from the Gaussian process "
            "(0: TPE only). The GP is used only with at most 32 parameters, fewer than a third "
            "of them categorical"
        ),
    )
    n_ei_candidates: int = Field(default=24, ge=1, description="TPE candidates per suggestion")
    multivariate: bool = Field(default=True, description="TPE models parameters jointly")
    constant_liar: bool = Field(default=True, description="Avoid duplicate parallel suggestions")


class GPSettings(SpecModel):
    n_startup_trials: int = Field(default=10, ge=0)
    deterministic_objective: bool = Field(default=False, description="Objective has no noise")


class CmaEsSettings(SpecModel):
    sigma0: float | None = Field(
        default=None,
        gt=0,
        description="Initial step size (deprecated by Optuna 4.9, to be removed in Optuna 6)",
    )
    n_startup_trials: int = Field(default=1, ge=0)
    popsize: int | None = Field(default=None, ge=2)
    use_separable_cma: bool = False
    with_margin: bool = Field(default=False, description="CMA-ES with margin for int spaces")
    lr_adapt: bool = Field(
        default=False, description="Learning-rate adaptation for noisy objectives"
    )


SETTINGS_MODELS: dict[Algorithm, type[SpecModel]] = {
    "random": RandomSettings,
    "grid": GridSettings,
    "bayesian": BayesianSettings,
    "gp": GPSettings,
    "cmaes": CmaEsSettings,
}
