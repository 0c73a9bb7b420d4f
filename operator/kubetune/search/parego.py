"""Multi-objective search with kubetune's own Gaussian process: ParEGO (Knowles, 2006).

Each suggestion draws a random weight vector (uniform on the simplex, seeded by the study's seed
and the trial number, so a restarted operator draws the same one) and hands the Gaussian process
the study with every completed trial's objectives folded into one value, the augmented
Chebyshev scalarization of the objectives normalized to the range seen so far:

    max_i(w_i * f_i) + RHO * sum_i(w_i * f_i)       (smaller is better)

Minimizing it for one weight vector finds one point of the Pareto front; a fresh vector each
trial spreads the search over the whole front. Infeasible trials (``spec.constraints``) keep
their scalarized values: the process models their constraint values and weighs its expected
improvement by the probability of feasibility (:mod:`kubetune.search.feasibility`). The first
``n_startup_trials`` trials are random, as with the single-objective GP.
"""

from __future__ import annotations

from collections.abc import Container, Sequence
from typing import Any

import numpy as np
import optuna
from optuna.distributions import BaseDistribution
from optuna.samplers import BaseSampler, RandomSampler
from optuna.study import StudyDirection
from optuna.trial import FrozenTrial, TrialState

from kubetune.search.gp_sampler import GaussianProcessSampler
from kubetune.search.views import StudyView
from kubetune.search.warping import ScaleChooser

RHO = 0.05
"""Weight of the sum term: breaks ties between weakly dominated points."""


class ParEgoSampler(BaseSampler):
    """Random for the first trials, then the Gaussian process on a random scalarization; from
    ``gp_max_trials`` completed trials on, ``fallback`` (TPE: a GP suggestion grows costly)."""

    def __init__(
        self,
        *,
        seed: int | None = None,
        n_startup_trials: int = 10,
        gp_max_trials: int | None = None,
        fallback: BaseSampler | None = None,
        deterministic_objective: bool = False,
        scales: ScaleChooser | None = None,
    ) -> None:
        self._seed = seed
        self._n_startup_trials = n_startup_trials
        self._gp_max_trials = gp_max_trials
        self._random = RandomSampler(seed=seed)
        self._fallback = fallback
        self._gp = GaussianProcessSampler(
            seed=seed,
            deterministic_objective=deterministic_objective,
            independent_sampler=RandomSampler(seed=seed),
            restarts=False,  # stagnation is judged on one scalarization: meaningless across them
            scales=scales,
        )

    def _sampler(self, study: optuna.Study, trial: FrozenTrial) -> BaseSampler | None:
        """The sampler for ``trial``: None for the GP, ``self._random`` before it models."""
        done = study._get_trials(deepcopy=False, states=(TrialState.COMPLETE,), use_cache=True)
        if trial.number < self._n_startup_trials or len(done) < 2:
            return self._random
        limit = self._gp_max_trials
        if self._fallback is not None and limit is not None and len(done) >= limit:
            return self._fallback
        return None

    def _weights(self, trial: FrozenTrial, count: int) -> np.ndarray[Any, np.dtype[np.float64]]:
        rng = np.random.default_rng(None if self._seed is None else [self._seed, trial.number])
        weights: np.ndarray[Any, np.dtype[np.float64]] = rng.dirichlet(np.ones(count))
        return weights

    def _view(self, study: optuna.Study, trial: FrozenTrial) -> optuna.Study:
        weights = self._weights(trial, len(study.directions))
        return _ScalarizedStudy(study, weights)  # type: ignore[return-value]

    def before_trial(self, study: optuna.Study, trial: FrozenTrial) -> None:
        sampler = self._sampler(study, trial)
        if sampler is not None:
            sampler.before_trial(study, trial)

    def infer_relative_search_space(
        self, study: optuna.Study, trial: FrozenTrial
    ) -> dict[str, BaseDistribution]:
        sampler = self._sampler(study, trial)
        if sampler is not None:
            return sampler.infer_relative_search_space(study, trial)
        return self._gp.infer_relative_search_space(self._view(study, trial), trial)

    def sample_relative(
        self, study: optuna.Study, trial: FrozenTrial, search_space: dict[str, BaseDistribution]
    ) -> dict[str, Any]:
        sampler = self._sampler(study, trial)
        if sampler is not None:
            return sampler.sample_relative(study, trial, search_space)
        if not search_space:
            return {}
        return self._gp.sample_relative(self._view(study, trial), trial, search_space)

    def sample_independent(
        self,
        study: optuna.Study,
        trial: FrozenTrial,
        param_name: str,
        param_distribution: BaseDistribution,
    ) -> Any:
        sampler = self._sampler(study, trial) or self._random
        return sampler.sample_independent(study, trial, param_name, param_distribution)

    def after_trial(
        self,
        study: optuna.Study,
        trial: FrozenTrial,
        state: TrialState,
        values: Sequence[float] | None,
    ) -> None:
        if self._fallback is not None:
            self._fallback.after_trial(study, trial, state, values)

    def reseed_rng(self) -> None:
        self._random.reseed_rng()
        self._gp.reseed_rng()
        if self._fallback is not None:
            self._fallback.reseed_rng()


def scalarize(
    values: np.ndarray[Any, np.dtype[np.float64]], weights: np.ndarray[Any, np.dtype[np.float64]]
) -> np.ndarray[Any, np.dtype[np.float64]]:
    """Augmented Chebyshev scalarization of ``values`` (rows: trials, minimization), each
    objective normalized to [0, 1] over the rows."""
    low, high = values.min(axis=0), values.max(axis=0)
    spread = np.where(high > low, high - low, 1.0)
    weighted = weights * (values - low) / spread
    result: np.ndarray[Any, np.dtype[np.float64]] = weighted.max(axis=1) + RHO * weighted.sum(
        axis=1
    )
    return result


class _ScalarizedStudy(StudyView):
    """A multi-objective study seen as a single-objective one to minimize: each completed
    trial's value is its scalarization under ``weights``; completed trials with a non-finite
    objective are left out (they have no place on the normalized scale)."""

    def __init__(self, study: optuna.Study, weights: np.ndarray[Any, np.dtype[np.float64]]) -> None:
        signs = np.array([-1.0 if d == StudyDirection.MAXIMIZE else 1.0 for d in study.directions])

        def scalarized(trials: list[FrozenTrial]) -> dict[int, float]:
            scored = [
                t
                for t in trials
                if t.state == TrialState.COMPLETE
                and t.values is not None
                and np.all(np.isfinite(t.values))
            ]
            if not scored:
                return {}
            values = np.array([t.values for t in scored], dtype=float) * signs
            scalar = scalarize(values, weights)
            return {t.number: float(v) for t, v in zip(scored, scalar, strict=True)}

        super().__init__(study, scalarized)

    @property
    def direction(self) -> StudyDirection:
        return StudyDirection.MINIMIZE

    @property
    def directions(self) -> list[StudyDirection]:
        return [StudyDirection.MINIMIZE]

    def _get_trials(
        self,
        deepcopy: bool = False,
        states: Container[TrialState] | None = None,
        use_cache: bool = False,
    ) -> list[FrozenTrial]:
        trials = super()._get_trials(deepcopy=deepcopy, states=states, use_cache=use_cache)
        # A scalarized trial has one value; a completed one left with several was not scored.
        return [t for t in trials if t.state != TrialState.COMPLETE or len(t.values or ()) == 1]
