"""kubetune: Kubernetes-native hyperparameter tuning.

The stable public API: the TuningJob spec model and its loader, the search space, the pure
reconcile core and the trial Job builder. Everything else is an implementation detail.
"""

from kubetune.api import SpecError, TuningJob, load_tuningjobs, parse_tuningjob
from kubetune.controller import reconcile, render_trial_job, trial_name
from kubetune.search import SearchSpace, build_sampler

__version__ = "0.1.0"

__all__ = [
    "SearchSpace",
    "SpecError",
    "TuningJob",
    "__version__",
    "build_sampler",
    "load_tuningjobs",
    "parse_tuningjob",
    "reconcile",
    "render_trial_job",
    "trial_name",
]
