"""``scale: auto``: whether a float parameter is searched on a linear or a log scale is decided
from the results, not declared.

The rule (documented in docs/search.md):

1. **Exploration covers both hypotheses.** Where a suggestion of an ``auto`` parameter is not
   modelled (the random start-up trials, and any strategy that samples a parameter on its own),
   it is drawn from an even mixture of uniform and log-uniform over ``[min, max]``: half the
   draws spread over the range, half over its decades, so whichever scale matters, the first
   trials have values there. (``min <= 0``: uniform only, a log scale cannot hold 0.)
2. **The Gaussian process chooses the warping by evidence.** Before each modelled suggestion,
   each ``auto`` parameter in turn is encoded both ways (``[0, 1]`` linearly, or its logarithm
   scaled to ``[0, 1]``) and a process is fitted to the completed trials with each; the encoding
   whose fit has the higher log marginal posterior (the quantity the hyperparameters are fitted
   by) is used for that suggestion: its candidates, its local search and its decoding. A range
   whose good region sits in a corner of a wide range (``[1e-6, 1]``, best near ``1e-4``) is
   explained by a smooth function of the logarithm and not of the value, so it is searched as if
   declared ``log``; a linear one stays linear. The choice is made again as results arrive.

Everything else about the study stays linear: Optuna stores the parameter as a plain
``FloatDistribution(min, max)``, so a study resumes and reads as usual.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Sequence
from typing import Any, Protocol

import numpy as np
import optuna
from optuna.distributions import BaseDistribution, FloatDistribution
from optuna.samplers import BaseSampler
from optuna.trial import FrozenTrial

from kubetune.search.gaussian_process import (
    Array,
    GaussianProcess,
    _negative_log_posterior,
    squared_distances,
)
from kubetune.search.views import _ViewSampler

# Fewer completed trials than this: no evidence worth comparing, the linear encoding is used.
MIN_TRIALS_TO_CHOOSE = 4


class _Encoding(Protocol):
    names: tuple[str, ...]
    distributions: tuple[BaseDistribution, ...]

    @property
    def categorical(self) -> Any: ...

    def encode(self, params: dict[str, Any]) -> Array: ...


def _loggable(distribution: BaseDistribution) -> bool:
    return (
        isinstance(distribution, FloatDistribution)
        and distribution.low > 0
        and not distribution.log
        and distribution.step is None
    )


class ScaleChooser:
    """The Gaussian process' hook: the encoding with each ``auto`` parameter on its better scale."""

    def __init__(self, names: Collection[str]) -> None:
        self.names = frozenset(names)
        self.last_choice: dict[str, str] = {}  # parameter → "log" | "linear" (for tests, benches)

    def choose(self, encoding: Any, complete: Sequence[FrozenTrial], y: Array) -> Any:
        """``encoding`` (the sampler's ``_Encoding``) with the ``auto`` dimensions whose data a
        log scale explains better switched to a log distribution of the same bounds."""
        chosen = list(encoding.distributions)
        auto = [
            i
            for i, (name, d) in enumerate(zip(encoding.names, chosen, strict=True))
            if name in self.names and _loggable(d)
        ]
        if not auto or len(complete) < MIN_TRIALS_TO_CHOOSE:
            return encoding
        make = type(encoding)
        for index in auto:
            linear = chosen[index]
            assert isinstance(linear, FloatDistribution)
            logged = FloatDistribution(linear.low, linear.high, log=True)
            scores = []
            for option in (linear, logged):
                trial = make(encoding.names, (*chosen[:index], option, *chosen[index + 1 :]))
                scores.append(_evidence(trial, complete, y))
            if scores[1] > scores[0]:
                chosen[index] = logged
            self.last_choice[encoding.names[index]] = "log" if chosen[index] is logged else "linear"
        return make(encoding.names, tuple(chosen))


def _evidence(encoding: _Encoding, complete: Sequence[FrozenTrial], y: Array) -> float:
    """Log marginal posterior of a process fitted to the trials under ``encoding``."""
    x = np.array([encoding.encode(t.params) for t in complete])
    categorical = encoding.categorical
    gp = GaussianProcess.fit(x, y, categorical)
    sqd = squared_distances(x, x, categorical)
    value, _ = _negative_log_posterior(gp.hyper.to_raw(), sqd, y, None)
    return -value if math.isfinite(value) else -math.inf


class MixedScaleSampler(_ViewSampler):
    """Independent draws of ``auto`` parameters from half uniform, half log-uniform."""

    def __init__(self, sampler: BaseSampler, names: Collection[str], seed: int | None) -> None:
        super().__init__(sampler)
        self.names = frozenset(names)
        self._rng = np.random.default_rng(seed)

    def _view(self, study: optuna.Study) -> Any:
        return study

    def sample_independent(
        self,
        study: optuna.Study,
        trial: FrozenTrial,
        param_name: str,
        param_distribution: BaseDistribution,
    ) -> Any:
        if param_name not in self.names or not isinstance(param_distribution, FloatDistribution):
            return super().sample_independent(study, trial, param_name, param_distribution)
        low, high = param_distribution.low, param_distribution.high
        if _loggable(param_distribution) and self._rng.random() < 0.5:
            return float(math.exp(self._rng.uniform(math.log(low), math.log(high))))
        if param_distribution.step is not None:
            return super().sample_independent(study, trial, param_name, param_distribution)
        return float(self._rng.uniform(low, high))

    def reseed_rng(self) -> None:
        self._rng = np.random.default_rng()
        super().reseed_rng()
