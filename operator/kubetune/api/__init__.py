"""The TuningJob API: typed spec, validation with field paths, status vocabulary."""

from kubetune.api.errors import FieldError, SpecError
from kubetune.api.loading import load_documents, load_tuningjobs, parse_tuningjob
from kubetune.api.spec import (
    Limits,
    Metrics,
    Objective,
    Parameter,
    Strategy,
    TrialTemplate,
    TuningJob,
    TuningJobSpec,
)
from kubetune.api.status import (
    AuxiliaryConditionType,
    AuxiliaryReason,
    BestTrial,
    ConditionType,
    Reason,
    SummaryConditionType,
    TrialCounts,
    TrialReason,
)
from kubetune.names import API_GROUP, API_VERSION, KIND

__all__ = [
    "API_GROUP",
    "API_VERSION",
    "KIND",
    "AuxiliaryConditionType",
    "AuxiliaryReason",
    "BestTrial",
    "ConditionType",
    "FieldError",
    "Limits",
    "Metrics",
    "Objective",
    "Parameter",
    "Reason",
    "SpecError",
    "Strategy",
    "SummaryConditionType",
    "TrialCounts",
    "TrialReason",
    "TrialTemplate",
    "TuningJob",
    "TuningJobSpec",
    "load_documents",
    "load_tuningjobs",
    "parse_tuningjob",
]
