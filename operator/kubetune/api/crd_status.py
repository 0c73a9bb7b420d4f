"""The ``status`` part of the TuningJob CRD's schema: conditions, trial counts, the best trial.

The operator writes status; the descriptions here are what ``kubectl explain tuningjob.status``
shows, and they name the condition types and reasons from ``kubetune.api.status`` so that the
two cannot drift apart.
"""

from __future__ import annotations

import copy
from typing import Any

from kubetune.api.status import (
    MAX_PARETO_FRONT,
    AuxiliaryConditionType,
    AuxiliaryReason,
    BestTrial,
    ConditionType,
    DiagnosisStatus,
    ParetoTrial,
    Reason,
    SummaryConditionType,
    TrialCounts,
    TrialReason,
)
from kubetune.api.structural import Schema, SchemaHints, model_schema, strip_defaults


def _names(*members: Any) -> str:
    """'A, B or C' of enum members."""
    values = [str(m.value) for m in members]
    return values[0] if len(values) == 1 else f"{', '.join(values[:-1])} or {values[-1]}"


_READY, _STALLED = SummaryConditionType.READY.value, SummaryConditionType.STALLED.value
_SPEC_ACCEPTED = AuxiliaryConditionType.SPEC_ACCEPTED.value
_METRICS_SOURCE = AuxiliaryConditionType.METRICS_SOURCE_AVAILABLE.value
_RECONCILED = AuxiliaryConditionType.RECONCILED.value
_REFUSALS = (Reason.INVALID_SPEC, Reason.SEARCH_SPACE_CHANGED)
_STATES = _names(*ConditionType)
_STATE_TYPES = "/".join(t.value for t in ConditionType)

_CONDITION_TYPES = (
    f"Condition type. The state of the study: {_STATES}; exactly one of them is True. "
    f"Summaries for Flux/kstatus and Argo CD: {_READY} (True once Complete, False while "
    f"running or after a failure) and {_STALLED} (present, True, only when Failed). Beside "
    f"the state, never changing it: {_SPEC_ACCEPTED} (False while the latest edit of the "
    "spec is refused; the study goes on with the spec accepted before) and "
    f"{_METRICS_SOURCE} (with spec.metrics.source prometheus: False while Prometheus cannot "
    f"be queried) and {_RECONCILED} (present, False, only while the operator's steps for "
    "this TuningJob fail). `kubectl wait --for=condition=Complete` works on these."
)
_CONDITION_REASONS = (
    f"Why, in PascalCase. {_STATE_TYPES} (and {_READY}/{_STALLED}): "
    + ", ".join(r.value for r in Reason if r not in _REFUSALS)
    + f"; {_names(*_REFUSALS)} when Failed because no spec was ever accepted. "
    f"{_SPEC_ACCEPTED}: {AuxiliaryReason.ACCEPTED.value}, or {_names(*_REFUSALS)} naming the "
    f"refused field. {_METRICS_SOURCE}: "
    + _names(AuxiliaryReason.PROMETHEUS_AVAILABLE, AuxiliaryReason.PROMETHEUS_UNAVAILABLE)
    + f". {_RECONCILED}: {AuxiliaryReason.RECONCILE_ERROR.value}."
)
_CONDITIONS = (
    "Running while trials run; then Complete (a limit or the target was reached) or Failed, "
    f"with the reason. Exactly one of {_STATES} is True, whatever else is reported. "
    f"{_READY} and {_STALLED} summarise it for generic tools. {_SPEC_ACCEPTED} is False, "
    "with reason InvalidSpec or SearchSpaceChanged and a Warning Event, while an edit of a "
    "started TuningJob is refused: its study goes on with the spec accepted before (trials "
    f"are still recorded) and {_STATE_TYPES} keep reflecting the study; reverting the edit "
    "makes it True again. A spec never accepted is Failed (InvalidSpec) instead. "
    f"{_METRICS_SOURCE} (spec.metrics.source prometheus only) is False while Prometheus "
    "cannot be queried; finished trials then wait for their metrics. "
    f"{_RECONCILED} appears, False with reason {AuxiliaryReason.RECONCILE_ERROR.value} and "
    "the error, while the operator's steps for this TuningJob fail: the study is read back "
    "from its journal and retried with backoff, other TuningJobs are not affected."
)

_CONDITION: Schema = {
    "description": "One aspect of the TuningJob's state (Kubernetes condition conventions).",
    "type": "object",
    "properties": {
        "type": {
            "description": _CONDITION_TYPES,
            "type": "string",
            "maxLength": 316,
        },
        "status": {
            "description": "Whether the condition holds: True, False or Unknown.",
            "type": "string",
            "enum": ["True", "False", "Unknown"],
        },
        "reason": {
            "description": _CONDITION_REASONS,
            "type": "string",
            "maxLength": 1024,
        },
        "message": {
            "description": "Details for humans.",
            "type": "string",
            "maxLength": 32768,
        },
        "lastTransitionTime": {
            "description": "When status last changed (RFC 3339).",
            "type": "string",
            "format": "date-time",
        },
        "observedGeneration": {
            "description": "The metadata.generation this condition was computed from.",
            "type": "integer",
            "format": "int64",
            "minimum": 0,
        },
    },
    "required": ["type", "status"],
}

_STATUS_DESCRIPTIONS: dict[str, str] = {
    "status": "Progress of the search, written by the operator.",
    "status.trials": "How many trials are in each state.",
    "status.trials.active": "Trials running now (created and not finished).",
    "status.trials.queued": (
        "Active trials waiting in a queue: their Job is suspended (by Kueue, by a user, or "
        "created suspended) and not admitted yet."
    ),
    "status.trials.retried": (
        "Trials the infrastructure interrupted (eviction, preemption, node loss) that ran "
        "again; never counted as failed."
    ),
    "status.trials.succeeded": "Trials that finished and reported the objective metric.",
    "status.trials.infeasible": (
        "Succeeded trials that reported a constrained metric outside its bound "
        "(spec.constraints): recorded with their results and counted in succeeded, never the "
        "best trial. Only with spec.constraints."
    ),
    "status.trials.failed": "Trials that failed (errors, timeouts, missing metrics, ...).",
    "status.trials.pruned": (
        "Trials cut short without failing: stopped early by spec.earlyStopping (reason "
        f"{TrialReason.PRUNED.value}); stopped because the TuningJob finished while they ran "
        "(objective.target reached, maxRuntime, stopAfterTrialsWithoutImprovement or "
        f"maxFailedTrials; reason {TrialReason.STOPPED.value}); or set aside unlaunched because "
        f"their parameters were never fully stored (reason {TrialReason.STOPPED.value}). They "
        "count towards maxTrials, never as failures."
    ),
    "status.trials.total": "Trials started so far, in every state.",
    "status.bestTrial": (
        "The best finished trial so far, by spec.objective. Absent with spec.objectives "
        "(no trial is best on every objective): see paretoFront."
    ),
    "status.paretoFront": (
        "With spec.objectives: the finished feasible trials no other trial beats on every "
        "objective (the Pareto front), by trial number. At most 20: when the front is larger, "
        "the 20 that spread over it best (the least crowded ones, as NSGA-II picks them; the "
        "extremes of each objective always stay). paretoFrontSize says how many there are."
    ),
    "status.paretoFront[].name": "Name of the trial (<tuningjob>-<number>).",
    "status.paretoFront[].number": "Trial number, counting from 0.",
    "status.paretoFront[].objectives": "The trial's value of each objective, by metric name.",
    "status.paretoFront[].parameters": "The trial's parameter values, by parameter name.",
    "status.bestTrial.name": "Name of the trial (<tuningjob>-<number>).",
    "status.bestTrial.number": "Trial number, counting from 0.",
    "status.bestTrial.parameters": "The trial's parameter values, by parameter name.",
    "status.bestTrial.objective": "The trial's value of the objective metric.",
    "status.bestTrial.metrics": "Every metric the trial reported (spec.objective metrics).",
    "status.bestTrial.jobName": "Name of the trial's Job.",
    "status.diagnosis": (
        "With spec.diagnosis, once the TuningJob is Complete or Failed: the bias/variance "
        "verdict on the best trial."
    ),
    "status.diagnosis.verdict": (
        "highBias (train error far above the baseline), highVariance (validation error far "
        "above train), both, trainTestMismatch (test error far above validation), ok, or "
        "unknown (no trial succeeded, or the best did not report spec.diagnosis.trainMetric)."
    ),
    "status.diagnosis.message": "The errors and gaps behind the verdict.",
    "status.diagnosis.trial": "Number of the trial judged: the best one.",
}


def status_schema() -> Schema:
    """The structural schema of ``status``."""
    hints = SchemaHints(descriptions=_STATUS_DESCRIPTIONS)
    trials, _ = model_schema(TrialCounts, "status.trials", hints)
    best, _ = model_schema(BestTrial, "status.bestTrial", hints)
    pareto, _ = model_schema(ParetoTrial, "status.paretoFront[]", hints)
    diagnosis, _ = model_schema(DiagnosisStatus, "status.diagnosis", hints)
    for schema in (trials, best, pareto, diagnosis):
        strip_defaults(schema)  # the operator writes status; defaults there add nothing
    for counter in trials["properties"].values():
        counter["minimum"] = 0
    return {
        "description": _STATUS_DESCRIPTIONS["status"],
        "type": "object",
        "properties": {
            "conditions": {
                "description": _CONDITIONS,
                "type": "array",
                "items": copy.deepcopy(_CONDITION),
                "x-kubernetes-list-type": "map",
                "x-kubernetes-list-map-keys": ["type"],
            },
            "observedGeneration": {
                "description": "The metadata.generation the operator last acted on.",
                "type": "integer",
                "format": "int64",
                "minimum": 0,
            },
            "trials": trials,
            "bestTrial": best,
            "paretoFront": {
                "description": _STATUS_DESCRIPTIONS["status.paretoFront"],
                "type": "array",
                "maxItems": MAX_PARETO_FRONT,
                "items": pareto,
            },
            "paretoFrontSize": {
                "description": (
                    "With spec.objectives: how many trials are on the Pareto front, also those "
                    "paretoFront leaves out."
                ),
                "type": "integer",
                "format": "int64",
                "minimum": 0,
            },
            "warmStartTrials": {
                "description": (
                    "With spec.warmStart: how many completed trials of the parents were loaded "
                    "into the study before its first suggestion. They inform the search only: "
                    "never counted in trials, never the bestTrial."
                ),
                "type": "integer",
                "format": "int64",
                "minimum": 0,
            },
            "diagnosis": diagnosis,
            "startTime": {
                "description": "When the first trial was started (RFC 3339).",
                "type": "string",
                "format": "date-time",
            },
            "completionTime": {
                "description": "When the TuningJob became Complete or Failed (RFC 3339).",
                "type": "string",
                "format": "date-time",
            },
        },
    }
