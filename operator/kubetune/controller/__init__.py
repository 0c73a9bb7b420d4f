"""The pure reconcile core shared by the local runner and the Kubernetes operator.

``kubetune.controller.tuner.Tuner`` drives it against a study and a backend; it is not imported
here because it depends on ``kubetune.search.study``, which depends on this package's model.
"""

from kubetune.controller.completion import best_trial, evaluate_completion, trial_budget
from kubetune.controller.model import (
    Action,
    Completion,
    Finish,
    Launch,
    Phase,
    Record,
    Report,
    RuntimeTrial,
    Stop,
    Suggest,
    TrialOutcome,
    TrialRecord,
    TrialState,
)
from kubetune.controller.reconcile import reconcile
from kubetune.controller.template import render_trial_job
from kubetune.names import trial_name

__all__ = [
    "Action",
    "Completion",
    "Finish",
    "Launch",
    "Phase",
    "Record",
    "Report",
    "RuntimeTrial",
    "Stop",
    "Suggest",
    "TrialOutcome",
    "TrialRecord",
    "TrialState",
    "best_trial",
    "evaluate_completion",
    "reconcile",
    "render_trial_job",
    "trial_budget",
    "trial_name",
]
