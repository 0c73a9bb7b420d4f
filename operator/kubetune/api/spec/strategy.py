"""``spec.strategy`` (the search algorithm) and ``spec.earlyStopping`` (pruning trials)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from kubetune.api.spec.base import (
    SpecModel,
)

Algorithm = Literal["random", "grid", "bayesian", "gp", "cmaes"]
EarlyStoppingAlgorithm = Literal["none", "median", "percentile", "hyperband"]


class Strategy(SpecModel):
    """How the next trial's parameters are chosen."""

    algorithm: Algorithm = Field(
        default="bayesian",
        description=(
            "Search algorithm: random (uniform sampling), grid (every combination, in a shuffled "
            "order; needs a finite space), bayesian (the default: a Gaussian process while trials "
            "are few and the space mostly numeric, TPE otherwise), gp (Gaussian process only) "
            "or cmaes (CMA-ES, for numeric parameters)."
        ),
    )
    seed: int | None = Field(
        default=None,
        ge=0,
        le=2**32 - 1,
        description=(
            "Random seed (0 to 4294967295) so that the same spec suggests the same parameters. "
            "Unset: a different sequence on every run."
        ),
    )
    # Validated per algorithm by kubetune.search.samplers (unknown keys are rejected there).
    settings: dict[str, Any] = Field(
        default_factory=dict,
        description=(
            "Options of the chosen algorithm, as camelCase keys. Unknown keys are rejected: the "
            "operator reports them in an InvalidSpec condition. Default: no settings."
        ),
    )


class EarlyStopping(SpecModel):
    """Stop unpromising trials early, from the intermediate values they report."""

    algorithm: EarlyStoppingAlgorithm = Field(
        default="none",
        description=(
            "none (the default: every trial runs to the end), median (stop a trial whose value "
            "at a step is worse than the median of earlier trials at that step), percentile "
            "(like median with a chosen percentile) or hyperband."
        ),
    )
    start_step: int = Field(
        default=0,
        ge=0,
        description=(
            "median and percentile: steps a trial reports before it can be stopped. Default 0."
        ),
    )
    min_trials: int = Field(
        default=5,
        ge=1,
        description=(
            "median and percentile: trials that must have reported a step before a trial is "
            "compared there. Default 5."
        ),
    )
    percentile: float = Field(
        default=50.0,
        gt=0,
        lt=100,
        description=(
            "percentile: keep a trial only while its value is within the best percentile "
            "percent of earlier trials at the same step (50 is the median rule); between 0 and "
            "100, both exclusive. Default 50."
        ),
    )
    min_resource: int = Field(
        default=1,
        ge=1,
        description="hyperband: the smallest number of steps a trial runs. Default 1.",
    )
    max_resource: int | None = Field(
        default=None,
        ge=1,
        description=(
            "hyperband: the most steps a trial runs; greater than minResource. Unset: estimated "
            "from the first trial that finishes."
        ),
    )
    reduction_factor: int = Field(
        default=3,
        ge=2,
        description="hyperband: 1 in reductionFactor trials goes on to each next rung. Default 3.",
    )
