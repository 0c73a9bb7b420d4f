"""The ``bayesian`` strategy's sampler: a Gaussian process while it pays, TPE when it does not.

A Gaussian process finds good configurations of a few numeric parameters in far fewer trials
than TPE, but each suggestion refits the model: its cost grows with the number of finished
trials and it models many categorical parameters coarsely. TPE is cheap at any size and handles
categorical-heavy and conditional spaces well. ``AutoSampler`` picks one of them for each
trial, by this rule (the same idea as OptunaHub's AutoSampler):

1. The first ``n_startup_trials`` trials asked (``nStartupTrials``, default 10), and any trial
   asked before a single one has completed: seeded random sampling (the same suggestions the
   ``random`` strategy makes with that seed). With parallel trials the random design is still
   ``nStartupTrials`` trials: modelling starts as soon as they are asked and two have results.
2. The Gaussian process (:mod:`kubetune.search.gp_sampler`, NumPy and SciPy), when the space
   has at most :data:`GP_MAX_DIMENSIONS` parameters, fewer than :data:`GP_MAX_CATEGORICAL_SHARE`
   of them categorical, and at least :data:`GP_MIN_TRIALS` and fewer than ``gp_max_trials``
   trials have completed (``gpMaxTrials``, default 100): past that a GP suggestion costs a
   tenth of a second or more while TPE takes milliseconds and has enough data to do well.
   After the GP's search has restarted (:mod:`kubetune.search.restarts`: it stagnated in one
   basin), the limit counts the trials of its current run, the only ones it models: a search
   trapped until trial 100 would otherwise never get to finish its new run.
3. Otherwise TPE (multivariate, with the constant liar for parallel trials).

Switching in the middle of a study is safe: both samplers read the study's trials and keep no
state the other needs. Parallel trials are handled by both: TPE's constant liar treats running
trials as bad results, and the GP conditions on running trials at its own predictions, so four
trials asked in a row are four different points.

The GP sees the study with its worst results capped at Tukey's outer fence (three interquartile
ranges past the upper quartile when minimizing): one diverged trial (a loss of 5,000 among
losses of 50 to 80) would otherwise flatten the model over the region that matters. The study
itself keeps every value as reported.

This GP replaced Optuna's ``GPSampler`` here: it needs fewer trials on every benchmark, mostly
thanks to its power-transformed results and least-squares mean, and it needs no PyTorch (the
figures are in ``bench/results.md``). The ``gp`` strategy is this GP alone: no switch to
TPE, whatever the size of the study or the space.
"""

from __future__ import annotations

import copy
import threading
from collections.abc import Container, Sequence
from enum import StrEnum
from typing import Any

import optuna
from optuna.distributions import BaseDistribution, CategoricalDistribution
from optuna.samplers import BaseSampler, RandomSampler, TPESampler
from optuna.trial import FrozenTrial, TrialState

from kubetune.search import feasibility
from kubetune.search.restarts import current_run_start
from kubetune.search.warping import ScaleChooser

GP_MAX_DIMENSIONS = 32
"""Past this many parameters a GP suggestion takes seconds (the acquisition search grows with
the dimension); from 17 on the GP puts a sparse-axis prior on its lengthscales
(``gaussian_process.SPARSE_AXES_MIN_DIMENSIONS``), without which it did no better than TPE."""

GP_MAX_CATEGORICAL_SHARE = 1 / 3
"""A space with this share of categorical parameters or more goes to TPE: on a pipeline with 3
categorical parameters of 9 the GP settled on the first good combination it found and TPE,
which samples categories from their own densities, did far better."""

DEFAULT_GP_MAX_TRIALS = 100

GP_CONCURRENCY = threading.BoundedSemaphore(1)
"""One GP suggestion at a time per process: the operator steps many TuningJobs in worker
threads, and concurrent GP fits only compete for the same cores while each holds its own
matrices, so memory grows with every concurrent fit (``bench/results.md``)."""

GP_MIN_TRIALS = 2
"""A Gaussian process needs a couple of results to fit; before, TPE models (nStartupTrials 0)."""


class Model(StrEnum):
    """What suggests a trial's parameters."""

    RANDOM = "random"
    GP = "gp"
    TPE = "tpe"


def gp_fits_space(distributions: dict[str, BaseDistribution]) -> bool:
    """Whether a Gaussian process suits a search space: few parameters, mostly numeric."""
    dimensions = len(distributions)
    if dimensions == 0 or dimensions > GP_MAX_DIMENSIONS:
        return False
    categorical = sum(isinstance(d, CategoricalDistribution) for d in distributions.values())
    return categorical < GP_MAX_CATEGORICAL_SHARE * dimensions


def choose_model(
    asked: int,
    completed: int,
    *,
    n_startup_trials: int,
    gp_max_trials: int,
    use_gp: bool,
    modelled: int | None = None,
) -> Model:
    """The switching rule, as a pure function (see the module docstring).

    ``asked``: trials suggested before this one; ``completed``: trials with a result;
    ``use_gp``: whether the study may use a GP at all (the space suits one); ``modelled``: the
    completed trials the GP would model, those of its current run after a restart
    (:mod:`kubetune.search.restarts`; None: all of them).
    """
    if asked < n_startup_trials or completed == 0:
        return Model.RANDOM
    modelled = completed if modelled is None else modelled
    if use_gp and completed >= GP_MIN_TRIALS and modelled < gp_max_trials:
        return Model.GP
    return Model.TPE


class AutoSampler(BaseSampler):
    """GP for small mostly-numeric studies, TPE otherwise; random for the first trials."""

    def __init__(
        self,
        distributions: dict[str, BaseDistribution],
        *,
        seed: int | None = None,
        n_startup_trials: int = 10,
        gp_max_trials: int = DEFAULT_GP_MAX_TRIALS,
        n_ei_candidates: int = 24,
        multivariate: bool = True,
        constant_liar: bool = True,
        deterministic_objective: bool = False,
        use_gp: bool | None = None,
        gp_only: bool = False,
        scales: ScaleChooser | None = None,
    ) -> None:
        """``use_gp`` None: decide from the space. ``gp_only``: random sampling, never TPE,
        where the GP cannot model yet (the ``gp`` strategy)."""
        self._seed = seed
        self._n_startup_trials = n_startup_trials
        self._gp_max_trials = gp_max_trials
        self._deterministic = deterministic_objective
        if use_gp is None:
            use_gp = gp_fits_space(distributions) and gp_max_trials > n_startup_trials
        self._use_gp = use_gp
        self._gp_only = gp_only
        self._scales = scales  # scale: auto (kubetune.search.warping), for the GP
        self._random = RandomSampler(seed=seed)
        # Startup is ours (the random sampler above), so TPE models from its first trial on.
        self._tpe = TPESampler(
            seed=seed,
            n_startup_trials=0,
            n_ei_candidates=n_ei_candidates,
            multivariate=multivariate,
            constant_liar=constant_liar,
        )
        self._gp: BaseSampler | None = None
        self._models: dict[int, Model] = {}  # by trial id, for the trials being sampled
        self.last_model: Model | None = None

    @property
    def uses_gp(self) -> bool:
        return self._use_gp

    def _gp_sampler(self) -> BaseSampler:
        if self._gp is None:
            from kubetune.search.gp_sampler import GaussianProcessSampler  # SciPy: on first use

            self._gp = GaussianProcessSampler(
                seed=self._seed,
                deterministic_objective=self._deterministic,
                independent_sampler=RandomSampler(seed=self._seed),
                scales=self._scales,
            )
        return self._gp

    def _sampler(self, model: Model) -> BaseSampler:
        if model is Model.GP:
            return self._gp_sampler()
        if model is Model.TPE:
            return self._tpe
        return self._random

    def _model(self, trial: FrozenTrial) -> Model:
        return self._models.get(trial._trial_id, Model.RANDOM)

    # ---- BaseSampler ----------------------------------------------------------------------
    def before_trial(self, study: optuna.Study, trial: FrozenTrial) -> None:
        # Completed trials only: failed and pruned ones carry no value a model could learn from.
        finished = study._get_trials(deepcopy=False, states=(TrialState.COMPLETE,), use_cache=True)
        completed = len(finished)
        modelled = None
        if self._use_gp and completed >= self._gp_max_trials:
            modelled = completed - _current_run_start(study, finished)
        model = choose_model(
            trial.number,
            completed,
            n_startup_trials=self._n_startup_trials,
            gp_max_trials=self._gp_max_trials,
            use_gp=self._use_gp,
            modelled=modelled,
        )
        if self._gp_only and model is Model.TPE:
            model = Model.RANDOM
        self._models[trial._trial_id] = model
        self.last_model = model
        self._sampler(model).before_trial(study, trial)

    def infer_relative_search_space(
        self, study: optuna.Study, trial: FrozenTrial
    ) -> dict[str, BaseDistribution]:
        return self._sampler(self._model(trial)).infer_relative_search_space(study, trial)

    def sample_relative(
        self,
        study: optuna.Study,
        trial: FrozenTrial,
        search_space: dict[str, BaseDistribution],
    ) -> dict[str, Any]:
        model = self._model(trial)
        if model is Model.GP:
            with GP_CONCURRENCY:
                return self._gp_sampler().sample_relative(
                    _ClippedStudy(study),  # type: ignore[arg-type]
                    trial,
                    search_space,
                )
        return self._sampler(model).sample_relative(study, trial, search_space)

    def sample_independent(
        self,
        study: optuna.Study,
        trial: FrozenTrial,
        param_name: str,
        param_distribution: BaseDistribution,
    ) -> Any:
        sampler = self._sampler(self._model(trial))
        return sampler.sample_independent(study, trial, param_name, param_distribution)

    def after_trial(
        self,
        study: optuna.Study,
        trial: FrozenTrial,
        state: TrialState,
        values: Sequence[float] | None,
    ) -> None:
        model = self._models.pop(trial._trial_id, Model.TPE)
        self._sampler(model).after_trial(study, trial, state, values)

    def reseed_rng(self) -> None:
        self._random.reseed_rng()
        self._tpe.reseed_rng()
        if self._gp is not None:
            self._gp.reseed_rng()


class _ClippedStudy:
    """The study as the Gaussian process sees it: the worst results capped (``clip_worst``).

    Everything but the trials' values is the study's own, so the GP still sees running trials
    (and conditions on them) and stores what it stores as usual.
    """

    def __init__(self, study: optuna.Study) -> None:
        self._study = study

    def __getattr__(self, name: str) -> Any:
        return getattr(self._study, name)

    def _get_trials(
        self,
        deepcopy: bool = False,
        states: Container[TrialState] | None = None,
        use_cache: bool = False,
    ) -> list[FrozenTrial]:
        trials = self._study._get_trials(deepcopy=deepcopy, states=states, use_cache=use_cache)
        completed = [t for t in trials if t.state == TrialState.COMPLETE and t.value is not None]
        values = [float(t.value) for t in completed]  # type: ignore[arg-type]
        capped = clip_worst(values, self._study.direction)
        if capped == values:
            return trials
        replaced = {
            t.number: v for t, old, v in zip(completed, values, capped, strict=True) if v != old
        }
        result = []
        for trial in trials:
            if trial.number in replaced:
                trial = copy.copy(trial)
                trial.values = [replaced[trial.number]]
            result.append(trial)
        return result


def _current_run_start(study: optuna.Study, finished: list[FrozenTrial]) -> int:
    """Where the GP's current run begins among ``finished`` (trial order), on the values the GP
    sees (capped as ``_ClippedStudy`` caps them)."""
    finished = [t for t in finished if t.value is not None]
    values = clip_worst([float(t.value) for t in finished], study.direction)  # type: ignore[arg-type]
    if study.direction == optuna.study.StudyDirection.MAXIMIZE:
        values = [-v for v in values]
    satisfied = feasibility.feasible(feasibility.constraint_values(finished), len(finished))
    return current_run_start(feasibility.penalized(values, satisfied))


def clip_worst(
    values: list[float], direction: optuna.study.StudyDirection, fences: float = 3.0
) -> list[float]:
    """Cap the worst values at Tukey's outer fence (``fences`` interquartile ranges past the
    quartile), so a few diverged trials (a loss of 5,000 among losses of 50 to 80) do not
    flatten the Gaussian process over the region that matters."""
    if len(values) < 4:
        return values
    ordered = sorted(values)
    q1 = ordered[len(ordered) // 4]
    q3 = ordered[(3 * len(ordered)) // 4]
    spread = q3 - q1
    if direction == optuna.study.StudyDirection.MINIMIZE:
        fence = q3 + fences * spread
        return [min(v, fence) for v in values]
    fence = q1 - fences * spread
    return [max(v, fence) for v in values]
