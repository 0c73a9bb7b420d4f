"""Parameters as kubetune's Gaussian process sees them: points of the unit cube.

A numeric parameter is scaled to ``[0, 1]`` (a log-scale one on its logarithm); a categorical
one is its choice's index. Integers and stepped floats are continuous here and rounded back to
their grid when decoded.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray
from optuna.distributions import (
    BaseDistribution,
    CategoricalDistribution,
    FloatDistribution,
    IntDistribution,
)

from kubetune.search.gaussian_process import Array


@dataclass(frozen=True)
class Encoding:
    """Parameters ↔ points of ``[0, 1]^d`` (a categorical parameter: its choice's index)."""

    names: tuple[str, ...]
    distributions: tuple[BaseDistribution, ...]

    @property
    def categorical(self) -> NDArray[np.bool_]:
        return np.array([isinstance(d, CategoricalDistribution) for d in self.distributions])

    def encode(self, params: dict[str, Any]) -> Array:
        return np.array(
            [
                encode_value(d, params[name])
                for name, d in zip(self.names, self.distributions, strict=True)
            ]
        )

    def decode(self, point: Array) -> dict[str, Any]:
        return {
            name: decode_value(d, float(u))
            for name, d, u in zip(self.names, self.distributions, point, strict=True)
        }


def _bounds(distribution: FloatDistribution | IntDistribution) -> tuple[float, float]:
    low, high = float(distribution.low), float(distribution.high)
    return (math.log(low), math.log(high)) if distribution.log else (low, high)


def encode_value(distribution: BaseDistribution, value: Any) -> float:
    if isinstance(distribution, CategoricalDistribution):
        return float(distribution.to_internal_repr(value))
    assert isinstance(distribution, FloatDistribution | IntDistribution)
    low, high = _bounds(distribution)
    x = math.log(value) if distribution.log else float(value)
    return 0.0 if high == low else (x - low) / (high - low)


def decode_value(distribution: BaseDistribution, u: float) -> Any:
    if isinstance(distribution, CategoricalDistribution):
        return distribution.to_external_repr(round(u))
    assert isinstance(distribution, FloatDistribution | IntDistribution)
    low, high = _bounds(distribution)
    x = low + min(max(u, 0.0), 1.0) * (high - low)
    value = math.exp(x) if distribution.log else x
    if isinstance(distribution, IntDistribution) or distribution.step is not None:
        step = distribution.step or 1
        value = distribution.low + round((value - distribution.low) / step) * step
    value = min(max(value, distribution.low), distribution.high)
    return int(value) if isinstance(distribution, IntDistribution) else float(value)
