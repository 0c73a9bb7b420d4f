"""``GaussianProcessSampler``: Bayesian optimization with :mod:`kubetune.search.gaussian_process`.

Each suggestion fits the process to the completed trials (parameters scaled to ``[0, 1]``,
log-scale ones on their logarithm: ``search.encoding``; values standardized and
power-transformed: ``search.targets``),
conditions it on the running trials at its own predictions (the "kriging believer": a running
trial's neighbourhood is no longer uncertain, so parallel suggestions spread out, near the best
trial: ``search.batch``), and returns
the point of highest log expected improvement: the best of 2,048 scrambled Sobol points and the
best trials so far, each of the ten best polished by L-BFGS-B, categorical parameters then tried
one value at a time.
Integers and stepped floats are optimized as continuous values and rounded at the end.

The linear algebra runs on one BLAS thread: the matrices are at most a few hundred rows, where
more threads only add overhead (two threads took twice the CPU time for the same wall time), and
the operator makes suggestions for many TuningJobs on few cores.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import numpy as np
import optuna
from numpy.typing import NDArray
from optuna.distributions import (
    BaseDistribution,
    CategoricalDistribution,
)
from optuna.samplers import BaseSampler, RandomSampler
from optuna.search_space import IntersectionSearchSpace
from optuna.trial import FrozenTrial, TrialState
from scipy import optimize
from scipy.stats import qmc
from threadpoolctl import ThreadpoolController

from kubetune.search import acquisition, batch, feasibility
from kubetune.search import categorical as categories
from kubetune.search.encoding import Encoding
from kubetune.search.gaussian_process import (
    Array,
    GaussianProcess,
    Hyperparameters,
)
from kubetune.search.restarts import current_run_start
from kubetune.search.targets import finite_values, model_targets, warp
from kubetune.search.warping import ScaleChooser

PENDING_FANTASIES = 0
"""Running trials at the model's mean (0: the kriging believer), or averaged over this many
joint posterior samples of their outcomes (q-EI by fantasies; bench/results.md compares)."""

RESTART_DESIGN = 5
"""Random trials that begin each new run after a restart, before the model takes over."""

JOINT_CATEGORIES = False
"""Categories searched jointly with the continuous values (``search.categorical``) instead of
swept one parameter at a time around the acquisition's winner; an experiment, off by default
(it did no better on the spaces the default gives the GP: ``bench/results.md``)."""

RAW_SAMPLES = 2048
LOCAL_SEARCHES = 10

_THREADPOOLS = ThreadpoolController()  # finds the BLAS libraries once (limiting is then ~10 µs)


class GaussianProcessSampler(BaseSampler):
    """Optuna sampler: a Gaussian process and log expected improvement, in NumPy."""

    def __init__(
        self,
        *,
        seed: int | None = None,
        deterministic_objective: bool = False,
        independent_sampler: BaseSampler | None = None,
        restarts: bool = True,
        scales: ScaleChooser | None = None,
    ) -> None:
        """``restarts``: start the search again when it stagnates (``kubetune.search.restarts``).
        ``scales``: picks log or linear for ``scale: auto`` parameters (``search.warping``)."""
        self._rng = np.random.default_rng(seed)
        self._deterministic = deterministic_objective
        self._independent = independent_sampler or RandomSampler(seed=seed)
        self._search_space = IntersectionSearchSpace()
        self._last_fit: Hyperparameters | None = None
        self._restarts = restarts
        self._scales = scales

    def reseed_rng(self) -> None:
        self._rng = np.random.default_rng()
        self._independent.reseed_rng()

    def infer_relative_search_space(
        self, study: optuna.Study, trial: FrozenTrial
    ) -> dict[str, BaseDistribution]:
        return {
            name: distribution
            for name, distribution in self._search_space.calculate(study).items()
            if not distribution.single()
        }

    def sample_relative(
        self, study: optuna.Study, trial: FrozenTrial, search_space: dict[str, BaseDistribution]
    ) -> dict[str, Any]:
        if not search_space:
            return {}
        encoding = Encoding(tuple(search_space), tuple(search_space.values()))
        trials = study._get_trials(
            deepcopy=False, states=(TrialState.COMPLETE, TrialState.RUNNING), use_cache=True
        )
        complete = [
            t
            for t in trials
            if t.state == TrialState.COMPLETE and t.value is not None and _has(t, encoding)
        ]
        running = [
            t
            for t in trials
            if t.state == TrialState.RUNNING and t.number != trial.number and _has(t, encoding)
        ]
        if self._restarts:
            complete, running, design = _current_run(study, trial, complete, running)
            if design:
                return {}  # the new run's random start: sample_independent
        if len(complete) < 2:
            return {}
        with _THREADPOOLS.limit(limits=1, user_api="blas"):
            if self._scales is not None:  # scale: auto, decided by evidence (search.warping)
                encoding = self._scales.choose(encoding, complete, model_targets(study, complete))
            return self._suggest(study, encoding, complete, running)

    def _suggest(
        self,
        study: optuna.Study,
        encoding: Encoding,
        complete: list[FrozenTrial],
        running: list[FrozenTrial],
    ) -> dict[str, Any]:
        x = np.array([encoding.encode(t.params) for t in complete])
        values = finite_values(np.array([float(t.value) for t in complete]))  # type: ignore[arg-type]
        if study.direction == optuna.study.StudyDirection.MINIMIZE:
            values = -values  # the process maximizes
        y = warp(values)
        categorical = encoding.categorical
        gp = GaussianProcess.fit(
            x, y, categorical, start=self._last_fit, deterministic=self._deterministic
        )
        self._last_fit = gp.hyper
        # spec.constraints: constrained EI (kubetune.search.feasibility).
        constraints = feasibility.constraint_values(complete)
        satisfied = feasibility.feasible(constraints, len(complete))
        feasible_model = None
        if constraints is not None:
            feasible_model = feasibility.Feasibility.fit(x, constraints, categorical)
        incumbent = feasibility.incumbent(y, satisfied)
        # Without a feasible result there is no improvement to measure (the acquisition is the
        # probability of feasibility alone): the models' incumbent is then a placeholder.
        best = float(y.max()) if incumbent is None else incumbent
        models = [(gp, best)]
        starts = x[feasibility.ranking(y, constraints)[:LOCAL_SEARCHES]]
        box = None
        if running:
            # Running trials count as finished at the model's predictions, for the incumbent
            # too: a point beside a promising running trial then has to beat what that trial
            # is expected to give, so parallel suggestions do not crowd around it.
            pending = np.array([encoding.encode(t.params) for t in running])
            if PENDING_FANTASIES:
                outcomes = gp.sample_joint(pending, PENDING_FANTASIES, self._rng)
            else:
                outcomes = gp.predict(pending)[0][None, :]
            models = [
                (gp.with_observations(pending, o), max(best, float(o.max()))) for o in outcomes
            ]
            box = batch.trust_region(gp.hyper, starts[0], categorical)  # near the best trial
            starts = starts if box is None else np.clip(starts, *box)
        point = self._maximize(
            models,
            encoding,
            starts=starts,
            feasible_model=feasible_model,
            improvement=incumbent is not None,
            box=box,
        )
        return encoding.decode(point)

    def sample_independent(
        self,
        study: optuna.Study,
        trial: FrozenTrial,
        param_name: str,
        param_distribution: BaseDistribution,
    ) -> Any:
        return self._independent.sample_independent(study, trial, param_name, param_distribution)

    # ---- acquisition -------------------------------------------------------------------------
    def _maximize(
        self,
        models: list[tuple[GaussianProcess, float]],
        encoding: Encoding,
        starts: Array,
        feasible_model: feasibility.Feasibility | None = None,
        improvement: bool = True,
        box: tuple[Array, Array] | None = None,
    ) -> Array:
        """The point of highest log EI, averaged over ``models`` (one per outcome assumed for
        the running trials) when there are several; with constraints (``feasible_model``),
        times the probability of feasibility, or that probability alone without a feasible
        incumbent (``improvement`` False); within ``box`` when given (``search.batch``)."""
        categorical = encoding.categorical
        sizes = np.array(
            [
                len(d.choices) if isinstance(d, CategoricalDistribution) else 0
                for d in encoding.distributions
            ]
        )

        score: feasibility.Score = functools.partial(acquisition.log_ei, models)
        score_gradient: feasibility.ScoreGradient = functools.partial(
            acquisition.log_ei_and_gradient, models
        )
        if feasible_model is not None:
            score, score_gradient = feasible_model.weigh(score, score_gradient, improvement)
        dimensions = len(sizes)
        sobol = qmc.Sobol(dimensions, scramble=True, seed=self._rng).random(RAW_SAMPLES)
        if JOINT_CATEGORIES:
            sobol = categories.fill_categories(sobol, sizes, self._rng)
        else:
            sobol[:, categorical] = np.floor(sobol[:, categorical] * sizes[categorical])
        bounds = batch.polish_bounds(box, ~categorical)
        candidates = np.vstack([batch.into_box(sobol, box, ~categorical), starts])
        scores = score(candidates)
        if JOINT_CATEGORIES:
            order = categories.diverse_starts(candidates, scores, sizes, LOCAL_SEARCHES)
        else:
            order = np.argsort(-scores)[:LOCAL_SEARCHES]
        polished = [
            self._polish(candidates[i], scores[i], score_gradient, categorical, bounds)
            for i in order
        ]
        point, value = max(polished, key=lambda pair: pair[1])
        if not JOINT_CATEGORIES:
            return self._sweep_categories(point, value, score, sizes)

        def polish(start: Array, start_value: float) -> tuple[Array, float]:
            return self._polish(start, start_value, score_gradient, categorical, bounds)

        return categories.neighbour_search(point, value, score, polish, sizes)[0]

    @staticmethod
    def _polish(
        start: Array,
        value: float,
        score_gradient: Callable[[Array], tuple[float, Array]],
        categorical: NDArray[np.bool_],
        bounds: list[tuple[float, float]],
    ) -> tuple[Array, float]:
        """L-BFGS-B on the continuous coordinates from ``start`` within ``bounds``, on the exact
        gradient (finite differences cost a prediction per coordinate and step: most of a
        suggestion's time with many parameters); the start if it does no better."""
        free = ~categorical
        if not free.any():
            return start, value

        def negative(u: Array) -> tuple[float, Array]:
            point = start.copy()
            point[free] = u
            value, gradient = score_gradient(point)
            return -value, -gradient[free]

        result = optimize.minimize(
            negative,
            start[free],
            jac=True,
            method="L-BFGS-B",
            bounds=bounds,
        )
        if not np.isfinite(result.fun) or -result.fun <= value:
            return start, value
        point = start.copy()
        point[free] = result.x
        return point, -float(result.fun)

    @staticmethod
    def _sweep_categories(
        point: Array, value: float, score: Callable[[Array], Array], sizes: NDArray[np.int_]
    ) -> Array:
        """Each categorical coordinate in turn set to its best choice, the others held."""
        for index in np.flatnonzero(sizes):
            options = np.repeat(point[None, :], sizes[index], axis=0)
            options[:, index] = np.arange(sizes[index])
            scores = score(options)
            if scores.max() > value:
                point, value = options[int(scores.argmax())], float(scores.max())
        return point


def _current_run(
    study: optuna.Study,
    trial: FrozenTrial,
    complete: list[FrozenTrial],
    running: list[FrozenTrial],
) -> tuple[list[FrozenTrial], list[FrozenTrial], bool]:
    """The completed and running trials of the search's current run (``restarts``), and
    whether ``trial`` belongs to the new run's random start. Trials are taken in trial order."""
    values = [float(t.value) for t in complete]  # type: ignore[arg-type]
    if study.direction == optuna.study.StudyDirection.MAXIMIZE:
        values = [-v for v in values]
    satisfied = feasibility.feasible(feasibility.constraint_values(complete), len(complete))
    start = current_run_start(feasibility.penalized(values, satisfied))
    if start == 0:
        return complete, running, False
    boundary = complete[start - 1].number
    asked = sum(
        boundary < t.number < trial.number
        for t in study._get_trials(deepcopy=False, use_cache=True)
    )
    return (
        complete[start:],
        [t for t in running if t.number > boundary],
        asked < RESTART_DESIGN,
    )


def _has(trial: FrozenTrial, encoding: Encoding) -> bool:
    return all(name in trial.params for name in encoding.names)
