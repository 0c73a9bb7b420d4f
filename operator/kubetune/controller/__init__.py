"""The pure reconcile core shared by the local runner and the Kubernetes operator.

``kubetune.controller.tuner.Tuner`` drives it against a study and a backend; import it from
there (it brings in Optuna through ``kubetune.search.study``).
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
)
from kubetune.controller.reconcile import reconcile
from kubetune.controller.template import render_trial_job
from kubetune.names import trial_name
from kubetune.trials import TrialOutcome, TrialRecord, TrialState

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
