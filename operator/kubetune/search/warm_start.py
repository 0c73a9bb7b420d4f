"""Warm start: the completed trials of parent studies, made into trials of a new study.

A parent is read once, when the new study is created (``TuningStudy``), through a loader the
runtime supplies (a run directory locally, the study journal's ConfigMaps on a cluster). Its
trials are added to the new study as finished trials marked with their parent, before its first
suggestion, so every sampler (kubetune's Gaussian process included) starts informed. They are
never the new job's trials: ``TuningStudy`` numbers its own trials after them and leaves them
out of its records, so they count towards no limit and are never the best.

- ``identicalDataAndAlgorithm``: parameter names and types must match; values are kept as they
  are, also outside the new ranges (they still inform the model). A categorical value no longer
  among the values, or a value a log scale cannot take (<= 0), cannot be placed in the new
  space: that trial is left out and counted as such.
- ``transferLearning``: parameters only the parent has are dropped; parameters only the new job
  has get a value drawn at random for each parent trial (spreading the parent's result over the
  new dimension instead of pinning it to one value: a Monte Carlo marginalization). Each
  parent's values are standardized (mean 0, standard deviation 1, oriented to the new job's
  direction); ``TransferSampler`` puts them on the new job's own scale at each suggestion.
"""

from __future__ import annotations

import math
import random
import statistics
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import optuna
from optuna.distributions import (
    BaseDistribution,
    CategoricalDistribution,
    IntDistribution,
)
from optuna.trial import FrozenTrial
from optuna.trial import TrialState as OptunaState

from kubetune.api.errors import FieldError, SpecError
from kubetune.api.spec import Direction, Parameter, WarmStart, WarmStartParent
from kubetune.search.space import SearchSpace
from kubetune.trials import ParamValue

# Trial user attribute of a warm-start trial: the parent it came from.
ATTR_PARENT = "kubetune.warmStartParent"
# Study user attribute: {"trials": <how many were added>, "parents": {label: count}, ...}.
ATTR_WARM_START = "kubetune.warmStart"
# Study user attribute: the objective metrics, in the order of the study's directions (set when
# the study is created), so a parent read for one of them gets that objective's direction.
ATTR_OBJECTIVES = "kubetune.objectives"
# transferLearning: the parents' trials inform the model until the job has this many results of
# its own; from then on its own results alone (a related objective's optimum is near, not at,
# the job's: kept for good, the parents' results would pull the search towards theirs).
TRANSFER_HANDOVER = 10
# The study name prefix of a reverseLog parameter (``kubetune.search.space``).
_REVERSE_LOG_PREFIX = "1-"


class ParentNotFound(LookupError):
    """A warm-start parent that cannot be read; the message says why."""


class WarmStartError(SpecError):
    """A warm start that cannot be done as specified: an invalid spec (InvalidSpec, exit 2)."""


@dataclass(frozen=True)
class ParentTrial:
    """A completed trial of a parent, in user terms."""

    params: Mapping[str, ParamValue]
    value: float
    metrics: Mapping[str, float] = field(default_factory=dict)  # every finite metric recorded


@dataclass(frozen=True)
class ParentStudy:
    """What a warm start reads of a parent: its direction, parameter types and trials."""

    label: str  # how messages name it: NAME, or NAMESPACE/NAME on a cluster
    direction: Direction
    kinds: Mapping[str, str]  # parameter → float | int | categorical
    trials: Sequence[ParentTrial]


ParentLoader = Callable[[WarmStartParent, str], ParentStudy]
"""Reads one parent, with the new job's objective metric (``read_parent``); raises
:class:`ParentNotFound` when it cannot."""


@dataclass(frozen=True)
class WarmTrial:
    """A parent trial as the new study stores it (``value``: standardized for transfer)."""

    parent: str
    params: Mapping[str, ParamValue]
    value: float
    values: tuple[float, ...] | None = None  # multi-objective: each objective's, in order


@dataclass(frozen=True)
class WarmStartPlan:
    trials: list[WarmTrial]
    loaded: dict[str, int]  # parent label → trials added
    skipped: dict[str, int]  # parent label → trials that cannot be placed in the new space


def _kind(distribution: BaseDistribution) -> str:
    if isinstance(distribution, CategoricalDistribution):
        return "categorical"
    return "int" if isinstance(distribution, IntDistribution) else "float"


def read_parent(
    storage: optuna.storages.BaseStorage, study_name: str, label: str, metric: str
) -> ParentStudy:
    """The completed trials of study ``study_name`` in ``storage`` (its own, not those it was
    warm-started with). ``metric``: the new job's objective metric; a parent trial that
    recorded it gives that value, otherwise its objective."""
    try:
        study_id = storage.get_study_id_from_name(study_name)
    except KeyError:
        raise ParentNotFound(f"{label} has no study") from None
    directions = storage.get_study_directions(study_id)
    objectives = storage.get_study_user_attrs(study_id).get(ATTR_OBJECTIVES)
    index = 0  # a multi-objective parent: the objective ``metric`` is, if it is one
    if isinstance(objectives, list) and metric in objectives:
        index = min(objectives.index(metric), len(directions) - 1)
    direction: Direction = (
        "maximize" if directions[index] == optuna.study.StudyDirection.MAXIMIZE else "minimize"
    )
    kinds: dict[str, str] = {}
    trials: list[ParentTrial] = []
    for trial in storage.get_all_trials(study_id, deepcopy=False, states=(OptunaState.COMPLETE,)):
        if ATTR_PARENT in trial.user_attrs or not trial.values:
            continue
        metrics = trial.user_attrs.get("kubetune.metrics") or {}
        value = metrics.get(metric, trial.values[min(index, len(trial.values) - 1)])
        if not isinstance(value, int | float) or not math.isfinite(value):
            continue
        params: dict[str, ParamValue] = {}
        for name, stored in trial.params.items():
            distribution = trial.distributions[name]
            if name.startswith(_REVERSE_LOG_PREFIX):
                name, stored = name.removeprefix(_REVERSE_LOG_PREFIX), 1.0 - float(stored)
            params[name] = stored
            kinds[name] = _kind(distribution)
        finite = {
            name: float(v)
            for name, v in metrics.items()
            if isinstance(v, int | float) and math.isfinite(v)
        }
        trials.append(ParentTrial(params, float(value), finite))
    return ParentStudy(label, direction, kinds, trials)


def load_parents(warm_start: WarmStart, loader: ParentLoader, metric: str) -> list[ParentStudy]:
    """Every parent, read; a :class:`WarmStartError` naming each one that cannot be."""
    parents: list[ParentStudy] = []
    problems: list[FieldError] = []
    for index, parent in enumerate(warm_start.parents):
        try:
            parents.append(loader(parent, metric))
        except ParentNotFound as error:
            problems.append(FieldError(f"spec.warmStart.parents[{index}]", str(error)))
    if problems:
        raise WarmStartError(problems)
    return parents


def plan_warm_start(
    warm_start: WarmStart,
    parameters: Sequence[Parameter],
    direction: Direction,
    parents: Sequence[ParentStudy],
    seed: int | None = None,
    objectives: Sequence[str] | None = None,
) -> WarmStartPlan:
    """The trials to add to the new study; raises :class:`WarmStartError` when an identical
    warm start's parent has other parameters than the new job. ``objectives``: the metrics of
    a multi-objective job (identicalDataAndAlgorithm only): a parent trial gives the value of
    each, and one that did not record them all is skipped."""
    if not warm_start.transfer:
        _check_identical(parameters, parents)
    rng = random.Random(seed)
    by_name = {parameter.name: parameter for parameter in parameters}
    planned: list[WarmTrial] = []
    loaded: dict[str, int] = {}
    skipped: dict[str, int] = {}
    for parent in parents:
        values = [trial.value for trial in parent.trials]
        if warm_start.transfer:
            values = _standardized(values, flip=parent.direction != direction)
        added = 0
        for trial, value in zip(parent.trials, values, strict=True):
            params = dict(trial.params)
            if warm_start.transfer:
                params = {n: v for n, v in params.items() if n in by_name}
                for name, parameter in by_name.items():
                    if name not in params or _problem(parameter, params[name]):
                        params[name] = _random_value(parameter, rng)
            several = None
            if objectives:
                several = tuple(trial.metrics.get(name, math.nan) for name in objectives)
            unplaced = any(_problem(by_name[n], v) for n, v in params.items())
            if unplaced or (several is not None and not all(map(math.isfinite, several))):
                skipped[parent.label] = skipped.get(parent.label, 0) + 1
                continue
            planned.append(WarmTrial(parent.label, params, value, several))
            added += 1
        loaded[parent.label] = added
    return WarmStartPlan(planned, loaded, skipped)


def _check_identical(parameters: Sequence[Parameter], parents: Sequence[ParentStudy]) -> None:
    ours = {parameter.name: parameter.type for parameter in parameters}
    problems = []
    for index, parent in enumerate(parents):
        if not parent.trials:
            continue
        if dict(parent.kinds) != ours:
            theirs = ", ".join(f"{n} ({k})" for n, k in sorted(parent.kinds.items()))
            mine = ", ".join(f"{n} ({k})" for n, k in sorted(ours.items()))
            problems.append(
                FieldError(
                    f"spec.warmStart.parents[{index}]",
                    f"{parent.label} has parameters {theirs}, this job {mine}: "
                    "identicalDataAndAlgorithm needs the same names and types "
                    "(use type transferLearning)",
                )
            )
    if problems:
        raise WarmStartError(problems)


def _problem(parameter: Parameter, value: Any) -> bool:
    """Whether ``value`` cannot be placed in the new space at all (outside a range is fine)."""
    if parameter.type == "categorical":
        return not any(type(v) is type(value) and v == value for v in parameter.values or [])
    if isinstance(value, bool) or not isinstance(value, int | float):
        return True
    if parameter.scale == "log" and value <= 0:
        return True
    return parameter.scale == "reverseLog" and value >= 1


def _random_value(parameter: Parameter, rng: random.Random) -> ParamValue:
    if parameter.type == "categorical":
        return rng.choice(list(parameter.values or [""]))
    low, high = float(parameter.min or 0.0), float(parameter.max or 0.0)
    if parameter.scale == "log":
        value = math.exp(rng.uniform(math.log(low), math.log(high)))
    elif parameter.scale == "reverseLog":
        value = 1.0 - math.exp(rng.uniform(math.log(1.0 - high), math.log(1.0 - low)))
    else:
        value = rng.uniform(low, high)
    return round(value) if parameter.type == "int" else value


def _standardized(values: Sequence[float], flip: bool) -> list[float]:
    if not values:
        return []
    mean = statistics.fmean(values)
    spread = statistics.pstdev(values) if len(values) > 1 else 0.0
    sign = -1.0 if flip else 1.0
    return [sign * ((v - mean) / spread if spread > 0 else 0.0) for v in values]


def add_warm_trials(study: optuna.Study, space: SearchSpace, plan: WarmStartPlan) -> None:
    """Add the planned trials as finished trials of ``study`` (before any of its own).

    Stored with the new space's distributions, so samplers see one search space; a value
    outside a new range is stored as it is (``add_trial`` would refuse it, the storage takes it).
    """
    distributions = space.distributions
    storage = study._storage
    for trial in plan.trials:
        params = space.encode(trial.params)
        frozen = FrozenTrial(
            number=-1,
            state=OptunaState.COMPLETE,
            value=trial.value if trial.values is None else None,
            values=None if trial.values is None else list(trial.values),
            datetime_start=None,
            datetime_complete=None,
            params=params,
            distributions={name: distributions[name] for name in params},
            user_attrs={ATTR_PARENT: trial.parent},
            system_attrs={},
            intermediate_values={},
            trial_id=-1,
        )
        storage.create_new_trial(study._study_id, template_trial=frozen)


def warm_start_count(attrs: Mapping[str, Any]) -> int:
    """How many warm-start trials a study's first trial numbers are (study user attributes)."""
    recorded = attrs.get(ATTR_WARM_START)
    count = recorded.get("trials") if isinstance(recorded, Mapping) else None
    return count if type(count) is int and count > 0 else 0
