"""What a new study starts with, before its first suggestion: the warm-start trials of its
parents, then the TuningJob's ``initialTrials`` enqueued in order.

Done once, when the study is created (``TuningStudy``): a study reopened after a restart is
never seeded again, so no initial trial is enqueued twice and no parent read twice.
"""

from __future__ import annotations

import optuna

from kubetune.api.errors import FieldError
from kubetune.api.spec import TuningJobSpec
from kubetune.search.space import SearchSpace
from kubetune.search.warm_start import (
    ATTR_WARM_START,
    ParentLoader,
    WarmStartError,
    WarmStartPlan,
    add_warm_trials,
    load_parents,
    plan_warm_start,
)

# Trial user attribute of an enqueued initial trial: its index in spec.initialTrials.
ATTR_INITIAL_TRIAL = "kubetune.initialTrial"


def plan_seeding(spec: TuningJobSpec, parents: ParentLoader | None) -> WarmStartPlan | None:
    """Read the parents of ``spec.warmStart`` (before anything is written to the new study, so a
    missing parent leaves no half-made study behind). None without a warm start."""
    warm_start = spec.warm_start
    if warm_start is None:
        return None
    if parents is None:
        message = "parents cannot be read here (no run directory or cluster to read them from)"
        raise WarmStartError([FieldError("spec.warmStart", message)])
    studies = load_parents(warm_start, parents, spec.objective_metrics[0])
    return plan_warm_start(
        warm_start,
        spec.parameters,
        spec.directions[0],
        studies,
        spec.strategy.seed,
        objectives=spec.objective_metrics if spec.multi_objective else None,
    )


def seed_study(
    study: optuna.Study, space: SearchSpace, spec: TuningJobSpec, plan: WarmStartPlan | None
) -> None:
    """Add the warm-start trials, record how many, then enqueue the initial trials in order."""
    if plan is not None:
        add_warm_trials(study, space, plan)
        study.set_user_attr(
            ATTR_WARM_START,
            {
                "type": spec.warm_start.type if spec.warm_start else None,
                "trials": len(plan.trials),
                "parents": plan.loaded,
                "skipped": plan.skipped,
            },
        )
    for index, point in enumerate(spec.initial_trials):
        study.enqueue_trial(space.encode(point), user_attrs={ATTR_INITIAL_TRIAL: index})
