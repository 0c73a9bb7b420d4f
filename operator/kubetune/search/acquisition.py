"""The acquisition ``gp_sampler`` maximizes: log expected improvement, and its gradient.

With running trials the sampler may hold several models (one per outcome assumed for them:
``PENDING_FANTASIES``); the acquisition is then the log of the EI averaged over them.
"""

from __future__ import annotations

import math

import numpy as np
from scipy import special

from kubetune.search.gaussian_process import (
    Array,
    GaussianProcess,
    log_expected_improvement,
    log_expected_improvement_gradient,
)

Models = list[tuple[GaussianProcess, float]]
"""Each model with the incumbent its improvement is measured against."""


def log_ei(models: Models, points: Array) -> Array:
    """The acquisition at each row of ``points``."""
    logs = [log_expected_improvement(*gp.predict(points), best) for gp, best in models]
    if len(logs) == 1:
        return logs[0]
    averaged: Array = special.logsumexp(np.array(logs), axis=0) - math.log(len(logs))
    return averaged


def log_ei_and_gradient(models: Models, point: Array) -> tuple[float, Array]:
    """The acquisition at one point and its gradient (zero along categorical coordinates)."""
    pairs = [
        log_expected_improvement_gradient(*gp.predict_gradient(point), best) for gp, best in models
    ]
    if len(pairs) == 1:
        return pairs[0]
    logs = np.array([value for value, _ in pairs])
    weights = special.softmax(logs)  # d log(mean EI) = the EIs' shares times d log EI
    gradient: Array = weights @ np.array([g for _, g in pairs])
    return float(special.logsumexp(logs)) - math.log(len(logs)), gradient
