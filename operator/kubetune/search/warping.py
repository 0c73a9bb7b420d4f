"""``scale: auto``: whether a float parameter is searched on a linear or a log scale is decided
from the results, not declared.

The rule (documented in docs/search.md):

1. **Exploration follows the evidence.** Where a suggestion of an ``auto`` parameter is not
   modelled (the random start-up trials, and any strategy that samples a parameter on its own),
   it is drawn either uniformly or log-uniformly over ``[min, max]``. Until
   ``MIN_TRIALS_TO_CHOOSE`` results exist, each half the time; from then on (up to
   ``ADAPTIVE_MAX_TRIALS`` results) log-uniformly with the posterior probability that the log
   scale explains the results better (rule 2's odds), kept between ``MIN_LOG_SHARE`` and
   ``1 - MIN_LOG_SHARE``. So the start-up trials of a log-optimal range pile up in its decades
   after a few results, as if it were declared ``log``, and those of a linear one spread over
   its values. (``min <= 0``: uniform only, a log scale cannot hold 0.)
2. **The Gaussian process chooses the warping by evidence.** Before each modelled suggestion,
   each ``auto`` parameter in turn is encoded both ways (``[0, 1]`` linearly, or its logarithm
   scaled to ``[0, 1]``) and a process is fitted to the completed trials with each; the log
   encoding is used for that suggestion (its candidates, its local search, its decoding) when
   its log marginal posterior (the quantity the hyperparameters are fitted by) plus the prior
   odds beats the linear one's. The prior odds are ``LOG_PRIOR_ODDS`` nats for a range of at
   least ``WIDE_DECADES`` decades (such a range is usually meant logarithmically), 0 otherwise.
   A range whose good region sits in a corner of a wide range (``[1e-6, 1]``, best near
   ``1e-4``) is explained by a smooth function of the logarithm and not of the value, so it is
   searched as if declared ``log``; a linear one stays linear. The choice is made again as
   results arrive.

Everything else about the study stays linear: Optuna stores the parameter as a plain
``FloatDistribution(min, max)``, so a study resumes and reads as usual.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Sequence
from typing import Any

import numpy as np
import optuna
from optuna.distributions import BaseDistribution, FloatDistribution
from optuna.samplers import BaseSampler
from optuna.trial import FrozenTrial, TrialState

from kubetune.search.encoding import Encoding
from kubetune.search.gaussian_process import (
    Array,
    GaussianProcess,
    _negative_log_posterior,
    squared_distances,
)
from kubetune.search.targets import model_targets
from kubetune.search.views import _ViewSampler

# Fewer completed trials than this: no evidence worth comparing, the linear encoding is used.
MIN_TRIALS_TO_CHOOSE = 4
# A range spanning at least this many decades is more likely meant logarithmically (a rate, a
# regularization weight): its log encoding starts with this many nats of prior log odds.
WIDE_DECADES = 3.0
LOG_PRIOR_ODDS = 3.0
# Unmodelled draws follow the evidence (a log-uniform draw with its posterior probability of
# log) while there are at most this many results (two small fits per draw), never more surely
# than 1 - MIN_LOG_SHARE one way: the other scale keeps being explored a little.
ADAPTIVE_MAX_TRIALS = 50
MIN_LOG_SHARE = 0.1


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

    def choose(self, encoding: Encoding, complete: Sequence[FrozenTrial], y: Array) -> Encoding:
        """``encoding`` with the ``auto`` dimensions whose data a
        log scale explains better switched to a log distribution of the same bounds."""
        chosen = list(encoding.distributions)
        auto = [
            i
            for i, (name, d) in enumerate(zip(encoding.names, chosen, strict=True))
            if name in self.names and _loggable(d)
        ]
        if not auto or len(complete) < MIN_TRIALS_TO_CHOOSE:
            return encoding
        for index in auto:
            linear = chosen[index]
            assert isinstance(linear, FloatDistribution)
            logged = log_odds(Encoding(encoding.names, tuple(chosen)), index, complete, y) > 0
            if logged:
                chosen[index] = FloatDistribution(linear.low, linear.high, log=True)
            self.last_choice[encoding.names[index]] = "log" if logged else "linear"
        return Encoding(encoding.names, tuple(chosen))


def log_odds(encoding: Encoding, index: int, complete: Sequence[FrozenTrial], y: Array) -> float:
    """Posterior log odds that dimension ``index`` of ``encoding`` (linear) is better modelled
    on its logarithm: the difference of the two fits' log marginal posteriors, plus the prior
    odds of a wide range (``LOG_PRIOR_ODDS``)."""
    linear = encoding.distributions[index]
    assert isinstance(linear, FloatDistribution)  # a dimension ScaleChooser may switch
    logged = FloatDistribution(linear.low, linear.high, log=True)
    scores = []
    for option in (linear, logged):
        distributions = (
            *encoding.distributions[:index],
            option,
            *encoding.distributions[index + 1 :],
        )
        scores.append(_evidence(Encoding(encoding.names, distributions), complete, y))
    return scores[1] - scores[0] + _prior_odds(linear)


def _decades(distribution: FloatDistribution) -> float:
    return math.log10(distribution.high / distribution.low)


def _prior_odds(distribution: FloatDistribution) -> float:
    """Prior log odds of the log encoding against the linear one."""
    return LOG_PRIOR_ODDS if _decades(distribution) >= WIDE_DECADES else 0.0


def _evidence(encoding: Encoding, complete: Sequence[FrozenTrial], y: Array) -> float:
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
        self._shares: dict[tuple[str, int], float] = {}

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
        if _loggable(param_distribution) and self._rng.random() < self._log_share(
            study, param_name
        ):
            return float(math.exp(self._rng.uniform(math.log(low), math.log(high))))
        if param_distribution.step is not None:
            return super().sample_independent(study, trial, param_name, param_distribution)
        return float(self._rng.uniform(low, high))

    def _log_share(self, study: optuna.Study, name: str) -> float:
        """How often to draw ``name`` log-uniformly: half the time, or by the evidence so far
        (``log_odds``) once there is some."""
        if len(study.directions) > 1:
            return 0.5  # several objectives: no one value to weigh the scales by
        complete = [
            t
            for t in study._get_trials(
                deepcopy=False, states=(TrialState.COMPLETE,), use_cache=True
            )
            if t.value is not None and name in t.params
        ]
        if not MIN_TRIALS_TO_CHOOSE <= len(complete) <= ADAPTIVE_MAX_TRIALS:
            return 0.5
        key = (name, len(complete))
        if key not in self._shares:
            names = tuple(n for n in complete[0].params if all(n in t.params for t in complete))
            encoding = Encoding(names, tuple(complete[-1].distributions[n] for n in names))
            odds = log_odds(encoding, names.index(name), complete, model_targets(study, complete))
            share = 1.0 / (1.0 + math.exp(-min(max(odds, -50.0), 50.0)))
            self._shares[key] = min(max(share, MIN_LOG_SHARE), 1.0 - MIN_LOG_SHARE)
        return self._shares[key]

    def reseed_rng(self) -> None:
        self._rng = np.random.default_rng()
        super().reseed_rng()
