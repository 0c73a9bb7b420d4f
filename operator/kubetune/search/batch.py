"""Parallel trials: where the Gaussian process looks for the next point while others still run.

A suggestion made while trials run cannot use their results. The sampler then does two things:

1. The kriging believer (``gp_sampler``): the running trials count as finished at the model's
   predictions, for the incumbent too, so the next point is not placed where a running trial
   already looks, and it has to beat what the running trials are expected to give.
2. The trust region (:func:`trust_region`, here): the acquisition is maximized only inside a box
   around the best finished trial, :data:`TRUST_REGION_WIDTH` of each parameter's fitted
   lengthscale to each side.

Why the box: once the running trials are believed, the model is sure about the region they sit
in, and the remaining uncertainty is far from every trial, at the edges and corners of the
space. The believer alone therefore sends most parallel suggestions there; one trial at a time
never does this, because the next suggestion already knows the last result. Inside the box the
running trials still push each suggestion away from the others (the believer), but to other
points of the region that matters. The box is measured in lengthscales, so it is wide while the
model knows little (long lengthscales) and narrows as it learns where the function changes.

With no trial running there is no box: one trial at a time searches the whole space, exactly as
before.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from kubetune.search.gaussian_process import Array, Hyperparameters

TRUST_REGION_WIDTH: float | None = 0.5
"""Half the box's side, in fitted lengthscales; None: no box (the believer alone)."""


def trust_region(
    hyper: Hyperparameters, incumbent: Array, categorical: NDArray[np.bool_]
) -> tuple[Array, Array] | None:
    """The box ``(low, high)`` in ``[0, 1]^d`` around ``incumbent`` where a suggestion made
    while trials run is searched, or None for the whole space. Categorical coordinates are
    left free (their bounds are infinite: the categories are searched as usual)."""
    if TRUST_REGION_WIDTH is None:
        return None
    lengthscales = 1.0 / np.sqrt(hyper.inverse_squared_lengthscales)
    half = np.minimum(TRUST_REGION_WIDTH * lengthscales, 0.5)
    low = np.where(categorical, -np.inf, np.clip(incumbent - half, 0.0, 1.0))
    high = np.where(categorical, np.inf, np.clip(incumbent + half, 0.0, 1.0))
    return low, high


def into_box(points: Array, box: tuple[Array, Array] | None, free: NDArray[np.bool_]) -> Array:
    """Points of the unit cube (e.g. Sobol points) mapped into ``box`` on the ``free``
    (numeric) coordinates; unchanged without a box."""
    if box is None:
        return points
    low, high = box
    mapped = points.copy()
    mapped[:, free] = low[free] + points[:, free] * (high - low)[free]
    return mapped


def polish_bounds(
    box: tuple[Array, Array] | None, free: NDArray[np.bool_]
) -> list[tuple[float, float]]:
    """L-BFGS-B's bounds on the ``free`` coordinates: the box's, or the unit cube's."""
    if box is None:
        return [(0.0, 1.0)] * int(free.sum())
    return [(float(a), float(b)) for a, b in zip(box[0][free], box[1][free], strict=True)]
