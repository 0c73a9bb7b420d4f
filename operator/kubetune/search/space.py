"""The search space: TuningJob parameters as Optuna distributions, and back.

``reverseLog`` follows SageMaker: for ``0 <= min < max < 1`` values close to 1 are explored more
densely. Optuna has no such distribution, so the study holds ``1 - value`` on a log scale under
the name ``1-<name>`` (visible as such in optuna-dashboard) and ``decode`` turns it back.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from optuna.distributions import (
    BaseDistribution,
    CategoricalDistribution,
    FloatDistribution,
    IntDistribution,
    distribution_to_json,
)

from kubetune.api.spec import Parameter
from kubetune.trials import ParamValue


@dataclass(frozen=True)
class Dimension:
    """One parameter, with the Optuna name and distribution that stand for it."""

    parameter: Parameter
    study_name: str
    distribution: BaseDistribution

    def decode(self, stored: Any) -> ParamValue:
        parameter = self.parameter
        if parameter.type == "int":
            return int(stored)
        if parameter.type == "float":
            value = 1.0 - float(stored) if parameter.scale == "reverseLog" else float(stored)
            # Keep stepped floats clean (0.30000000000000004 → 0.3) for commands and reports,
            # without pushing a value past a bound on the way.
            low, high = parameter.min, parameter.max
            value = _tidy(value)
            if low is not None and high is not None:
                value = min(max(value, low), high)
            return value
        chosen: ParamValue = stored
        return chosen

    def encode(self, value: ParamValue) -> Any:
        if self.parameter.type == "float" and self.parameter.scale == "reverseLog":
            return 1.0 - float(value)
        return value

    def grid_values(self) -> list[Any] | None:
        """Every value in study terms, or None when the dimension is continuous."""
        distribution = self.distribution
        if isinstance(distribution, CategoricalDistribution):
            return list(distribution.choices)
        if isinstance(distribution, IntDistribution):
            return list(range(distribution.low, distribution.high + 1, distribution.step))
        if isinstance(distribution, FloatDistribution) and distribution.step is not None:
            span = distribution.high - distribution.low
            count = math.floor(span / distribution.step + 1e-9)
            return [_tidy(distribution.low + i * distribution.step) for i in range(count + 1)]
        return None


def _tidy(value: float) -> float:
    """``value`` to 12 significant digits: 0.30000000000000004 → 0.3, while 3e-15 (a valid
    log-scale value) stays 3e-15 instead of being rounded away to 0."""
    return float(f"{value:.12g}")


def _distribution(parameter: Parameter) -> tuple[str, BaseDistribution]:
    if parameter.type == "categorical":
        return parameter.name, CategoricalDistribution(list(parameter.values or []))
    low, high = float(parameter.min or 0.0), float(parameter.max or 0.0)
    log = parameter.scale == "log"
    if parameter.type == "int":
        step = int(parameter.step or 1)
        return parameter.name, IntDistribution(int(low), int(high), log=log, step=step)
    if parameter.scale == "reverseLog":
        # x in [low, high] ⇔ 1 - x in [1 - high, 1 - low], sampled on a log scale.
        return f"1-{parameter.name}", FloatDistribution(1.0 - high, 1.0 - low, log=True)
    return parameter.name, FloatDistribution(low, high, log=log, step=parameter.step)


@dataclass(frozen=True)
class SearchSpace:
    dimensions: tuple[Dimension, ...]

    @classmethod
    def from_parameters(cls, parameters: Sequence[Parameter]) -> SearchSpace:
        dimensions = []
        for parameter in parameters:
            study_name, distribution = _distribution(parameter)
            dimensions.append(Dimension(parameter, study_name, distribution))
        return cls(tuple(dimensions))

    @property
    def distributions(self) -> dict[str, BaseDistribution]:
        return {dimension.study_name: dimension.distribution for dimension in self.dimensions}

    @property
    def names(self) -> list[str]:
        return [dimension.parameter.name for dimension in self.dimensions]

    def decode(self, study_params: Mapping[str, Any]) -> dict[str, ParamValue]:
        """User-facing parameter values from the values a study trial holds."""
        return {
            dimension.parameter.name: dimension.decode(study_params[dimension.study_name])
            for dimension in self.dimensions
            if dimension.study_name in study_params
        }

    def encode(self, params: Mapping[str, ParamValue]) -> dict[str, Any]:
        """Study values for user-facing parameter values (e.g. to enqueue a known point)."""
        return {
            dimension.study_name: dimension.encode(params[dimension.parameter.name])
            for dimension in self.dimensions
        }

    def grid(self) -> dict[str, list[Any]] | None:
        """The full grid in study terms, or None if any dimension is continuous."""
        grid: dict[str, list[Any]] = {}
        for dimension in self.dimensions:
            values = dimension.grid_values()
            if values is None:
                return None
            grid[dimension.study_name] = values
        return grid

    def grid_size(self) -> int | None:
        grid = self.grid()
        return None if grid is None else math.prod(len(values) for values in grid.values())

    @property
    def auto_scaled(self) -> list[str]:
        """The study names of the ``scale: auto`` parameters (``kubetune.search.warping``)."""
        return [d.study_name for d in self.dimensions if d.parameter.scale == "auto"]

    @property
    def is_mostly_continuous(self) -> bool:
        continuous = sum(1 for d in self.dimensions if d.parameter.type != "categorical")
        return continuous * 2 > len(self.dimensions)

    def fingerprint(self) -> str:
        """A stable digest of the space; a resumed study must have the same one."""
        described = [[d.study_name, distribution_to_json(d.distribution)] for d in self.dimensions]
        return hashlib.sha256(json.dumps(described).encode()).hexdigest()[:16]
