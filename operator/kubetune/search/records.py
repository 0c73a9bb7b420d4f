"""Stored Optuna trials in kubetune's terms: the attributes kubetune keeps on a trial, its state,
its record, and its bounded curve of intermediate values. Pure reads and writes of a storage,
shared by the study (which writes) and the reports (which only read)."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import optuna
from optuna.trial import FrozenTrial
from optuna.trial import TrialState as OptunaState

from kubetune.metrics.series import MAX_INTERMEDIATE_VALUES, Observation
from kubetune.search.space import SearchSpace
from kubetune.trials import TrialRecord, TrialState

ATTR_METRICS = "kubetune.metrics"
ATTR_REASON = "kubetune.reason"
ATTR_MESSAGE = "kubetune.message"
# Infrastructure interruptions of a trial: {what was interrupted (pod/Job uid): what happened}.
ATTR_INTERRUPTIONS = "kubetune.interruptions"

STATES = {
    OptunaState.RUNNING: TrialState.RUNNING,
    OptunaState.COMPLETE: TrialState.COMPLETE,
    OptunaState.FAIL: TrialState.FAILED,
    OptunaState.PRUNED: TrialState.PRUNED,
}
OPTUNA_STATES = {
    TrialState.COMPLETE: OptunaState.COMPLETE,
    TrialState.FAILED: OptunaState.FAIL,
    TrialState.PRUNED: OptunaState.PRUNED,
}


def trial_state(trial: FrozenTrial) -> TrialState | None:
    """A stored trial's state in the core's terms; None for one enqueued but never asked."""
    return STATES.get(trial.state)


def trial_record(
    trial: FrozenTrial, state: TrialState, space: SearchSpace, warm_start_trials: int = 0
) -> TrialRecord:
    """A stored trial as the core's record (also what reports read, without opening a
    TuningStudy, which writes to the storage). ``warm_start_trials``: how many of the study's
    first trials came from warm-start parents (``warm_start_count``); the job's trial numbers
    start after them."""
    attrs = trial.user_attrs
    values = trial.values if state in (TrialState.COMPLETE, TrialState.PRUNED) else None
    return TrialRecord(
        number=trial.number - warm_start_trials,
        state=state,
        params=space.decode(trial.params),
        # A pruned trial keeps its last intermediate value (Optuna stores it as the value).
        objective=values[0] if values and len(values) == 1 else None,
        values=tuple(values) if values and len(values) > 1 else None,
        metrics=attrs.get(ATTR_METRICS, {}),
        reason=attrs.get(ATTR_REASON),
        message=attrs.get(ATTR_MESSAGE),
        intermediate=trial.intermediate_values,
        interruptions=attrs.get(ATTR_INTERRUPTIONS, {}),
    )


def store_intermediate(
    storage: optuna.storages.BaseStorage,
    trial_id: int,
    stored: Mapping[int, float],
    observations: Sequence[Observation],
    final: bool = False,
) -> None:
    """Journal the observations the trial does not have yet, at most
    ``MAX_INTERMEDIATE_VALUES`` per trial (a tqdm bar printing 200,000 steps must not write
    200,000 journal entries); when the trial ends (``final``) its last step is stored even
    past the cap, so that its curve ends where the trial did."""
    room = MAX_INTERMEDIATE_VALUES - len(stored)
    fresh = [o for o in observations if math.isfinite(o.value) and stored.get(o.step) != o.value]
    keep = fresh[: max(0, room)]
    if final and fresh and fresh[-1] not in keep:
        keep.append(fresh[-1])
    for observation in keep:
        storage.set_trial_intermediate_value(trial_id, observation.step, observation.value)
