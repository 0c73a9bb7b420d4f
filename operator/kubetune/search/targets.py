"""Trial results as kubetune's Gaussian process models them: finite, oriented so that larger
is better, standardized and power-transformed."""

from __future__ import annotations

import numpy as np
import optuna
from optuna.trial import FrozenTrial
from scipy import stats

from kubetune.search.gaussian_process import Array


def warp(values: Array) -> Array:
    """Values as the process models them: standardized, Yeo-Johnson power-transformed (the
    exponent fitted by maximum likelihood) and standardized again.

    Tuning results are rarely Gaussian: a loss has a long tail of bad configurations and a few
    good ones crowded near its floor. The transform makes the distribution closer to normal, so
    one lengthscale fits both the flat bad region and the good one (as in HEBO, which found
    this transform the largest single gain; ``bench/results.md`` has our figures). The order of
    the values is unchanged, so the best trial stays the best.
    """
    magnitude = float(np.abs(values).max()) if len(values) else 0.0
    scaled = values / magnitude if magnitude > 0 else values  # a value of 1e300 cannot square
    spread = float(scaled.std())
    if spread == 0.0:
        return np.zeros_like(values)
    standardized: Array = (scaled - scaled.mean()) / spread
    if len(values) < 3:
        return standardized
    with np.errstate(all="ignore"):
        transformed = stats.yeojohnson(standardized)[0]
    spread = float(transformed.std())
    if spread == 0.0 or not np.isfinite(transformed).all():
        return standardized  # an extreme exponent overflowed: keep the values as they are
    warped: Array = (transformed - transformed.mean()) / spread
    return warped


def finite_values(values: Array) -> Array:
    """Infinite results (a diverged loss reported as ``inf``) at the worst and best finite ones:
    still the worst or best, without breaking the fit. All infinite: all equal."""
    finite = np.isfinite(values)
    if finite.all():
        return values
    if not finite.any():
        return np.zeros_like(values)
    clipped: Array = np.clip(values, values[finite].min(), values[finite].max())
    return clipped


def model_targets(study: optuna.Study, complete: list[FrozenTrial]) -> Array:
    """The completed trials' values as the process models them (as the sampler fits them)."""
    values = finite_values(np.array([float(t.value or 0.0) for t in complete]))
    if study.direction == optuna.study.StudyDirection.MINIMIZE:
        values = -values
    return warp(values)
