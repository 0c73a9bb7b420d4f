"""The TuningJob status, summarised from the study: counters, the best trial, conditions."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from kubetune.api.spec import Constraint, TuningJobSpec, is_feasible
from kubetune.api.status import (
    AuxiliaryConditionType,
    AuxiliaryReason,
    BestTrial,
    ConditionType,
    ParetoTrial,
    Reason,
    SummaryConditionType,
    TrialCounts,
    TrialReason,
)
from kubetune.controller.completion import best_trial
from kubetune.controller.diagnosis import diagnosis_status
from kubetune.controller.model import Completion
from kubetune.names import trial_name
from kubetune.search.pareto import listed_front, pareto_trials
from kubetune.trials import TrialRecord, TrialState

# A trial failed with one of these reasons was failed by its last interruption (not rerun).
INTERRUPTION_REASONS = frozenset(
    {TrialReason.EVICTED.value, TrialReason.PREEMPTED.value, TrialReason.NODE_LOST.value}
)


def reruns(trial: TrialRecord) -> int:
    """How many times the trial ran again after an infrastructure interruption."""
    failed_by_last = trial.state is TrialState.FAILED and trial.reason in INTERRUPTION_REASONS
    return max(0, len(trial.interruptions) - (1 if failed_by_last else 0))


def count_trials(
    trials: Sequence[TrialRecord], queued: int = 0, constraints: Sequence[Constraint] = ()
) -> TrialCounts:
    """The status counters; ``queued``: running trials whose workload waits in a queue;
    ``constraints``: the spec's, which make a succeeded trial outside them infeasible."""
    counts = dict.fromkeys(TrialState, 0)
    for trial in trials:
        counts[trial.state] += 1
    return TrialCounts(
        active=counts[TrialState.RUNNING],
        queued=queued,
        succeeded=counts[TrialState.COMPLETE],
        infeasible=(
            sum(1 for trial in trials if is_infeasible(trial, constraints)) if constraints else None
        ),
        failed=counts[TrialState.FAILED],
        pruned=counts[TrialState.PRUNED],
        retried=sum(1 for trial in trials if reruns(trial)),
        total=len(trials),
    )


def is_infeasible(trial: TrialRecord, constraints: Sequence[Constraint]) -> bool:
    """Whether ``trial`` succeeded with a constrained metric outside its bound."""
    return (
        bool(constraints)
        and trial.state is TrialState.COMPLETE
        and not is_feasible(constraints, trial.metrics)
    )


def summarize_best(
    spec: TuningJobSpec, tuningjob: str, trials: Sequence[TrialRecord]
) -> BestTrial | None:
    best = best_trial(spec, trials)
    if best is None or best.objective is None:
        return None
    name = trial_name(tuningjob, best.number)
    return BestTrial(
        name=name,
        number=best.number,
        parameters=dict(best.params),
        objective=best.objective,
        metrics=dict(best.metrics),
        job_name=name,
    )


def summarize_front(
    spec: TuningJobSpec, tuningjob: str, trials: Sequence[TrialRecord]
) -> tuple[list[ParetoTrial], int]:
    """``status.paretoFront`` (at most ``MAX_PARETO_FRONT`` well spread trials of the front)
    and how many trials the whole front holds."""
    front = pareto_trials(spec, trials)
    listed = [
        ParetoTrial(
            name=trial_name(tuningjob, t.number),
            number=t.number,
            objectives=dict(zip(spec.objective_metrics, t.values or (), strict=True)),
            parameters=dict(t.params),
        )
        for t in listed_front(spec, front)
    ]
    return listed, len(front)


def timestamp(epoch: float) -> str:
    """RFC 3339 in UTC, second precision, as Kubernetes writes times."""
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def condition(
    type_: ConditionType | SummaryConditionType | AuxiliaryConditionType,
    status: bool,
    reason: Reason | AuxiliaryReason,
    message: str,
    now: float,
    generation: int | None,
) -> dict[str, Any]:
    result: dict[str, Any] = {
        "type": type_.value,
        "status": "True" if status else "False",
        "reason": reason.value,
        "message": message,
        "lastTransitionTime": timestamp(now),
    }
    if generation is not None:
        result["observedGeneration"] = generation
    return result


def _running_message(counts: TrialCounts) -> str:
    if counts.queued:
        waiting = f"{counts.queued} of them waiting in a queue (Job suspended)"
        return f"{counts.active} trials running, {waiting}, {counts.total} started"
    return f"{counts.active} trials running, {counts.total} started"


def conditions_for(
    completion: Completion | None, counts: TrialCounts, now: float, generation: int | None = None
) -> list[dict[str, Any]]:
    """Running / Complete / Failed, exactly one of them True."""
    if completion is None:
        running = condition(
            ConditionType.RUNNING,
            True,
            Reason.TRIALS_RUNNING,
            _running_message(counts),
            now,
            generation,
        )
        return [running]
    done = condition(completion.type, True, completion.reason, completion.message, now, generation)
    stopped = condition(
        ConditionType.RUNNING, False, completion.reason, completion.message, now, generation
    )
    return [stopped, done]


# Summary conditions in the form kstatus (Flux, kpt, cli-utils) and Argo CD read:
# ``Ready`` is True once the TuningJob is Complete and False while it runs or after it failed;
# ``Stalled`` is present, True, only when it Failed. Derived from Running/Complete/Failed only:
# the auxiliary conditions (SpecAccepted, MetricsSourceAvailable) never change them.
READY = SummaryConditionType.READY.value
STALLED = SummaryConditionType.STALLED.value


def summary_conditions(conditions: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """``conditions`` (without any previous summary) with Ready and Stalled after the state
    conditions, before the auxiliary ones."""
    auxiliary = {t.value for t in AuxiliaryConditionType}
    own = [c for c in conditions if c.get("type") not in (READY, STALLED)]
    aspects = [c for c in own if c.get("type") in auxiliary]
    own = [c for c in own if c.get("type") not in auxiliary]
    holding = {c.get("type"): c for c in own if c.get("status") == "True"}
    decider = next(
        (
            holding[t.value]
            for t in (ConditionType.FAILED, ConditionType.COMPLETE, ConditionType.RUNNING)
            if t.value in holding
        ),
        None,
    )
    if decider is None:
        return [*own, *aspects]

    def summary(type_: str, status: bool) -> dict[str, Any]:
        return {**decider, "type": type_, "status": "True" if status else "False"}

    result = [*own, summary(READY, decider["type"] == ConditionType.COMPLETE.value)]
    if decider["type"] == ConditionType.FAILED.value:
        result.append(summary(STALLED, True))
    return [*result, *aspects]


def merge_conditions(
    previous: Sequence[dict[str, Any]], current: Sequence[dict[str, Any]]
) -> list[dict[str, Any]]:
    """Add the summary conditions; keep ``lastTransitionTime`` of those whose status held."""
    before = {c.get("type"): c for c in previous}
    merged = []
    for item in summary_conditions(current):
        old = before.get(item["type"])
        if old is not None and old.get("status") == item["status"] and "lastTransitionTime" in old:
            item = {**item, "lastTransitionTime": old["lastTransitionTime"]}
        merged.append(item)
    return merged


def tuningjob_status(
    spec: TuningJobSpec,
    tuningjob: str,
    trials: Sequence[TrialRecord],
    completion: Completion | None,
    started_at: float,
    now: float,
    generation: int | None,
    previous: Mapping[str, Any] | None = None,
    pending: str | None = None,
    warm_start_trials: int | None = None,
    queued: int = 0,
) -> dict[str, Any]:
    """The whole ``status`` of a TuningJob: small and bounded, whatever the number of trials.

    ``warm_start_trials``: how many parent trials seeded the study (with spec.warmStart);
    ``queued``: how many running trials wait in a queue (their Job suspended)."""
    previous = previous or {}
    counts = count_trials(trials, queued, spec.constraints)
    conditions = conditions_for(completion, counts, now, generation)
    if pending and completion is None:
        conditions[0]["message"] += f"; waiting to start: {pending}"
    status: dict[str, Any] = {
        "observedGeneration": generation,
        "conditions": merge_conditions(previous.get("conditions") or [], conditions),
        "trials": counts.to_dict(),
        "startTime": timestamp(started_at),
    }
    best = summarize_best(spec, tuningjob, trials)
    if best is not None:
        status["bestTrial"] = best.to_dict()
    if spec.multi_objective:
        front, size = summarize_front(spec, tuningjob, trials)
        status["paretoFront"] = [trial.to_dict() for trial in front]
        status["paretoFrontSize"] = size
    if warm_start_trials is not None:
        status["warmStartTrials"] = warm_start_trials
    if completion is not None:
        status["completionTime"] = previous.get("completionTime") or timestamp(now)
        diagnosis = diagnosis_status(spec, trials)
        if diagnosis is not None:
            status["diagnosis"] = diagnosis.to_dict()
    return {key: value for key, value in status.items() if value is not None}


def spec_accepted(now: float, generation: int | None) -> dict[str, Any]:
    """``SpecAccepted=True``: the spec of ``generation`` is the one the study goes on with."""
    return condition(
        AuxiliaryConditionType.SPEC_ACCEPTED,
        True,
        AuxiliaryReason.ACCEPTED,
        f"the spec of generation {generation} is in effect"
        if generation is not None
        else "the spec is in effect",
        now,
        generation,
    )


def spec_refused(
    reason: Reason, message: str, now: float, generation: int | None
) -> dict[str, Any]:
    """``SpecAccepted=False``: the spec of ``generation`` was refused (``message`` names the
    field); whether the study goes on (with the spec accepted before) is up to the caller."""
    return condition(AuxiliaryConditionType.SPEC_ACCEPTED, False, reason, message, now, generation)


def put_condition(
    conditions: Sequence[dict[str, Any]],
    item: dict[str, Any],
    previous: Sequence[dict[str, Any]],
) -> list[dict[str, Any]]:
    """``conditions`` with ``item`` in place of any condition of its type, appended.

    ``item`` keeps the ``lastTransitionTime`` of its type in ``previous`` when its status held.
    """
    old = next((c for c in previous if c.get("type") == item["type"]), None)
    if old is not None and old.get("status") == item["status"] and "lastTransitionTime" in old:
        item = {**item, "lastTransitionTime": old["lastTransitionTime"]}
    return [*(c for c in conditions if c.get("type") != item["type"]), item]


def find_condition(conditions: Sequence[dict[str, Any]], type_: str) -> dict[str, Any] | None:
    return next((c for c in conditions if c.get("type") == type_), None)


def invalid_status(
    message: str,
    now: float,
    generation: int | None,
    reason: Reason = Reason.INVALID_SPEC,
) -> dict[str, Any]:
    """The status of a TuningJob whose spec was never accepted: Failed (InvalidSpec, say) and
    SpecAccepted=False with the same reason and message; nothing was launched."""
    failed = condition(ConditionType.FAILED, True, reason, message, now, generation)
    refused = spec_refused(reason, message, now, generation)
    return {"observedGeneration": generation, "conditions": [failed, refused]}
