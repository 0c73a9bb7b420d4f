"""Samplers that see the study through a view: the same trials, some values shown otherwise.

Two things kubetune stores as they are but a model must not take at face value:

- ``TransferSampler``: transferred (standardized) warm-start results, shown on the job's own
  scale (``kubetune.search.warm_start``);
- ``ConstrainedSampler``: infeasible trials (``spec.constraints``), shown with the worst result
  of the study, for the samplers that cannot read constraint values (CMA-ES,
  ``kubetune.search.samplers.CONSTRAINT_BLIND``), so they steer away from their region while
  their true values stay recorded. Every constrained trial's values are stored as Optuna's
  ``constraints`` system attribute (what ``Trial.set_constraint`` stores, what TPE, NSGA-II
  and kubetune's Gaussian process model and optuna-dashboard shows as feasibility).

Each wraps any sampler; the wrapped sampler stores what it stores in the real study.
"""

from __future__ import annotations

import statistics
import warnings
from collections.abc import Callable, Container, Sequence
from typing import Any

import optuna
from optuna.distributions import BaseDistribution
from optuna.samplers import BaseSampler
from optuna.trial import FrozenTrial
from optuna.trial import TrialState as OptunaState

# Optuna's system attribute for a trial's constraint values (<= 0: satisfied).
CONSTRAINTS_KEY = "constraints"
# transferLearning: the parents' trials inform the model until the job has this many results of
# its own; from then on its own results alone (a related objective's optimum is near, not at,
# the job's: kept for good, the parents' results would pull the search towards theirs).
TRANSFER_HANDOVER = 10


class _ViewSampler(BaseSampler):
    """Delegates to ``sampler``, handing it the study as ``_view`` shows it."""

    def __init__(self, sampler: BaseSampler) -> None:
        self.sampler = sampler

    def _view(self, study: optuna.Study) -> Any:
        raise NotImplementedError

    def infer_relative_search_space(
        self, study: optuna.Study, trial: FrozenTrial
    ) -> dict[str, BaseDistribution]:
        return self.sampler.infer_relative_search_space(self._view(study), trial)

    def sample_relative(
        self, study: optuna.Study, trial: FrozenTrial, search_space: dict[str, BaseDistribution]
    ) -> dict[str, Any]:
        return self.sampler.sample_relative(self._view(study), trial, search_space)

    def sample_independent(
        self,
        study: optuna.Study,
        trial: FrozenTrial,
        param_name: str,
        param_distribution: BaseDistribution,
    ) -> Any:
        view = self._view(study)
        return self.sampler.sample_independent(view, trial, param_name, param_distribution)

    def before_trial(self, study: optuna.Study, trial: FrozenTrial) -> None:
        self.sampler.before_trial(self._view(study), trial)

    def after_trial(
        self,
        study: optuna.Study,
        trial: FrozenTrial,
        state: OptunaState,
        values: Sequence[float] | None,
    ) -> None:
        self.sampler.after_trial(study, trial, state, values)

    def reseed_rng(self) -> None:
        self.sampler.reseed_rng()


Rewrite = Callable[[list[FrozenTrial]], dict[int, float]]
"""Trial number → the value a view shows for it, from the trials it sees."""


class StudyView:
    """The study with some completed trials' values replaced (``rewrite``)."""

    def __init__(self, study: optuna.Study, rewrite: Rewrite) -> None:
        self._study = study
        self._rewrite = rewrite

    def __getattr__(self, name: str) -> Any:
        return getattr(self._study, name)

    def get_trials(
        self, deepcopy: bool = True, states: Container[OptunaState] | None = None
    ) -> list[FrozenTrial]:
        return self._get_trials(deepcopy=deepcopy, states=states, use_cache=False)

    def _get_trials(
        self,
        deepcopy: bool = False,
        states: Container[OptunaState] | None = None,
        use_cache: bool = False,
    ) -> list[FrozenTrial]:
        trials = self._study._get_trials(deepcopy=deepcopy, states=states, use_cache=use_cache)
        shown = self._rewrite(trials)
        if not shown:
            return trials
        return [_with_value(t, shown[t.number]) if t.number in shown else t for t in trials]


def _with_value(trial: FrozenTrial, value: float) -> FrozenTrial:
    return FrozenTrial(
        number=trial.number,
        state=trial.state,
        value=value,
        datetime_start=trial.datetime_start,
        datetime_complete=trial.datetime_complete,
        params=trial.params,
        distributions=trial.distributions,
        user_attrs=trial.user_attrs,
        system_attrs=trial.system_attrs,
        intermediate_values=trial.intermediate_values,
        trial_id=trial._trial_id,
    )


def _completed(trials: list[FrozenTrial]) -> list[FrozenTrial]:
    return [t for t in trials if t.state == OptunaState.COMPLETE and t.value is not None]


class TransferSampler(_ViewSampler):
    """Transferred parent results (standardized) on the scale of the job's own results: mapped
    to the mean and standard deviation of its completed trials (left standardized until it has
    two), and no longer shown once it has ``TRANSFER_HANDOVER``."""

    def __init__(self, sampler: BaseSampler, warm_trials: int) -> None:
        super().__init__(sampler)
        self._warm = warm_trials

    def _view(self, study: optuna.Study) -> Any:
        warm = self._warm

        def rewrite(trials: list[FrozenTrial]) -> dict[int, float]:
            own = [float(t.value or 0.0) for t in _completed(trials) if t.number >= warm]
            parents = [t for t in _completed(trials) if t.number < warm]
            if len(own) >= TRANSFER_HANDOVER:
                return {}  # hidden below
            if len(own) < 2 or statistics.pstdev(own) == 0:
                return {}
            mean, spread = statistics.fmean(own), statistics.pstdev(own)
            return {t.number: mean + spread * float(t.value or 0.0) for t in parents}

        return _HandoverView(study, rewrite, warm)


class _HandoverView(StudyView):
    """A transfer view that leaves the parents' trials out once the job has enough of its own."""

    def __init__(self, study: optuna.Study, rewrite: Rewrite, warm: int) -> None:
        super().__init__(study, rewrite)
        self._warm = warm

    def _get_trials(
        self,
        deepcopy: bool = False,
        states: Container[OptunaState] | None = None,
        use_cache: bool = False,
    ) -> list[FrozenTrial]:
        trials = super()._get_trials(deepcopy=deepcopy, states=states, use_cache=use_cache)
        own = [t for t in _completed(trials) if t.number >= self._warm]
        if len(own) >= TRANSFER_HANDOVER:
            return [t for t in trials if t.number >= self._warm]
        return trials


class ConstrainedSampler(_ViewSampler):
    """Infeasible trials shown with the study's worst completed value."""

    def after_trial(
        self,
        study: optuna.Study,
        trial: FrozenTrial,
        state: OptunaState,
        values: Sequence[float] | None,
    ) -> None:
        with warnings.catch_warnings():
            # Said once per trial by CMA-ES; this view is how it uses them.
            warnings.filterwarnings("ignore", "Constraints have been set", UserWarning)
            super().after_trial(study, trial, state, values)

    def _view(self, study: optuna.Study) -> Any:
        minimize = study.direction == optuna.study.StudyDirection.MINIMIZE

        def rewrite(trials: list[FrozenTrial]) -> dict[int, float]:
            completed = _completed(trials)
            infeasible = [
                t for t in completed if any(v > 0 for v in t.system_attrs.get(CONSTRAINTS_KEY, ()))
            ]
            if not infeasible:
                return {}
            values = [float(t.value or 0.0) for t in completed]
            worst = max(values) if minimize else min(values)
            return {t.number: worst for t in infeasible}

        return StudyView(study, rewrite)
