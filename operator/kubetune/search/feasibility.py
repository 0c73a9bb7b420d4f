"""``spec.constraints`` for kubetune's Gaussian process: constrained expected improvement.

Each completed trial of a constrained study stores its constraint values (Optuna's
``constraints`` system attribute, ``<= 0``: satisfied; ``kubetune.search.study``). The Gaussian
process sampler models each constraint with a process of its own, fitted to the standardized
values, and multiplies its expected improvement by the probability that a point satisfies every
constraint (Gardner et al. 2014, "Bayesian optimization with inequality constraints"):

    log cEI(x) = log EI(x; best feasible result) + sum_i log P(c_i(x) <= 0)

Until a trial is feasible there is no incumbent to improve on, and the acquisition is the
probability of feasibility alone: the search first looks for the feasible region. The objective
model still sees every result as reported, infeasible ones too (their values say what the
objective does there; the constraint models say where not to go).

Restarts (``kubetune.search.restarts``) judge progress on feasible results only: an infeasible
result, however good, is counted as the worst one so far.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray
from optuna.trial import FrozenTrial
from scipy import special

from kubetune.search.gaussian_process import Array, GaussianProcess

Score = Callable[[Array], Array]
"""An acquisition at each row of its argument."""
ScoreGradient = Callable[[Array], tuple[float, Array]]
"""An acquisition at one point, with its gradient."""

_LOG_SQRT_2PI = 0.5 * math.log(2 * math.pi)


def constraint_values(trials: Sequence[FrozenTrial]) -> Array | None:
    """The trials' constraint values, one row per trial, or None when no trial has any (an
    unconstrained study). A trial without values (one that finished before the constraints were
    stored) counts as satisfying them."""
    stored = [trial.constraints for trial in trials]
    keys = sorted({key for values in stored for key in values})
    if not keys:
        return None
    rows = [[float(values.get(key, 0.0)) for key in keys] for values in stored]
    return np.array(rows, dtype=np.float64).reshape(len(trials), len(keys))


def feasible(constraints: Array | None, count: int) -> NDArray[np.bool_]:
    """Which of ``count`` trials satisfy every constraint (all of them without constraints)."""
    if constraints is None:
        return np.ones(count, dtype=bool)
    satisfied: NDArray[np.bool_] = np.all(constraints <= 0.0, axis=1)
    return satisfied


def penalized(values: Sequence[float], satisfied: NDArray[np.bool_]) -> list[float]:
    """``values`` (smaller is better) with each infeasible one replaced by the worst value."""
    if bool(satisfied.all()) or not values:
        return list(values)
    worst = max(values)
    return [v if ok else worst for v, ok in zip(values, satisfied, strict=True)]


@dataclass(frozen=True)
class Feasibility:
    """One Gaussian process per constraint, on its values standardized; ``thresholds``: where 0
    (the bound) lies on each standardized scale."""

    models: tuple[GaussianProcess, ...]
    thresholds: tuple[float, ...]

    @classmethod
    def fit(cls, x: Array, constraints: Array, categorical: NDArray[np.bool_]) -> Feasibility:
        models, thresholds = [], []
        for column in constraints.T:
            finite = np.isfinite(column)
            if not finite.any():
                continue
            values = np.clip(column, column[finite].min(), column[finite].max())
            spread = float(values.std())
            if spread == 0.0:
                continue  # the same value everywhere: nothing to model (all met or all not)
            mean = float(values.mean())
            models.append(GaussianProcess.fit(x, (values - mean) / spread, categorical))
            thresholds.append(-mean / spread)
        return cls(tuple(models), tuple(thresholds))

    def log_probability(self, points: Array) -> Array:
        """log P(every constraint is met) at each row of ``points``."""
        total = np.zeros(len(points))
        for model, threshold in zip(self.models, self.thresholds, strict=True):
            mean, variance = model.predict(points)
            total += special.log_ndtr((threshold - mean) / np.sqrt(variance))
        return total

    def log_probability_and_gradient(self, point: Array) -> tuple[float, Array]:
        """:meth:`log_probability` at one point and its gradient: d log Φ(z) = φ(z)/Φ(z) dz,
        with z = (threshold - mean) / sigma."""
        total, gradient = 0.0, np.zeros_like(point)
        for model, threshold in zip(self.models, self.thresholds, strict=True):
            mean, variance, mean_gradient, variance_gradient = model.predict_gradient(point)
            sigma = math.sqrt(variance)
            z = (threshold - mean) / sigma
            log_cdf = float(special.log_ndtr(z))
            ratio = math.exp(-0.5 * z * z - _LOG_SQRT_2PI - log_cdf)  # φ/Φ, stable in the tail
            sigma_gradient = variance_gradient / (2.0 * sigma)
            total += log_cdf
            gradient += ratio * (-mean_gradient - z * sigma_gradient) / sigma
        return total, gradient

    def weigh(
        self, score: Score, score_gradient: ScoreGradient, improvement: bool
    ) -> tuple[Score, ScoreGradient]:
        """The acquisition ``score`` (log EI, and its gradient) plus the log probability of
        feasibility; without ``improvement`` (no feasible incumbent yet) that log alone."""

        def weighed(points: Array) -> Array:
            base = score(points) if improvement else np.zeros(len(points))
            total: Array = base + self.log_probability(points)
            return total

        def weighed_gradient(point: Array) -> tuple[float, Array]:
            value, gradient = score_gradient(point) if improvement else (0.0, np.zeros_like(point))
            log_p, log_p_gradient = self.log_probability_and_gradient(point)
            return value + log_p, gradient + log_p_gradient

        return weighed, weighed_gradient


def incumbent(y: Array, satisfied: NDArray[np.bool_]) -> float | None:
    """The best feasible value of ``y`` (the process maximizes), None if no trial is feasible."""
    return float(y[satisfied].max()) if satisfied.any() else None


def ranking(y: Array, constraints: Array | None) -> NDArray[np.intp]:
    """Trial indexes best first: feasible ones by ``y`` (descending), then the others by their
    total violation (ascending)."""
    if constraints is None:
        order: NDArray[np.intp] = np.argsort(-y)
        return order
    violation = np.clip(constraints, 0.0, None).sum(axis=1)
    satisfied = violation <= 0.0
    # lexsort: the last key is the primary one.
    order = np.lexsort((np.where(satisfied, -y, violation), ~satisfied))
    return order
