"""Early-stopping algorithms → Optuna pruners, through a registry like the sampler one.

``spec.earlyStopping`` arrives validated; each algorithm maps its fields explicitly onto a
pruner's arguments. The pruner is attached to the study, fed with the intermediate values the
trials report (from their logs or from Prometheus), and asked about each running trial by the
``Tuner``; the pure reconcile core turns its verdicts into ``Stop`` actions.

* ``median``: Katib's and SageMaker's median stopping rule. Once ``minTrials`` trials have
  completed, a trial whose best value so far at a step is worse than the median of the earlier
  trials' values at that step is stopped; steps before ``startStep`` are never judged.
* ``percentile``: the same rule with another cut: a trial is kept while it is within the best
  ``percentile`` percent (50 is the median rule).
* ``hyperband``: Hyperband over successive halving, the resource being the step. Trials reach
  rungs at ``minResource * reductionFactor**k`` steps, and only the best ``1/reductionFactor``
  of the trials at a rung go on; ``maxResource`` is the most steps a trial runs.
* ``none``: no trial is stopped early.
"""

from __future__ import annotations

from collections.abc import Callable

import optuna

from kubetune.api.spec import EarlyStopping, EarlyStoppingAlgorithm

PrunerFactory = Callable[[EarlyStopping], optuna.pruners.BasePruner]


def _none(_: EarlyStopping) -> optuna.pruners.BasePruner:
    return optuna.pruners.NopPruner()


def _median(early: EarlyStopping) -> optuna.pruners.BasePruner:
    return optuna.pruners.MedianPruner(
        n_startup_trials=early.min_trials,
        n_warmup_steps=early.start_step,
        n_min_trials=early.min_trials,
    )


def _percentile(early: EarlyStopping) -> optuna.pruners.BasePruner:
    return optuna.pruners.PercentilePruner(
        early.percentile,
        n_startup_trials=early.min_trials,
        n_warmup_steps=early.start_step,
        n_min_trials=early.min_trials,
    )


def _hyperband(early: EarlyStopping) -> optuna.pruners.BasePruner:
    return optuna.pruners.HyperbandPruner(
        min_resource=early.min_resource,
        max_resource=early.max_resource if early.max_resource is not None else "auto",
        reduction_factor=early.reduction_factor,
    )


PRUNER_FACTORIES: dict[EarlyStoppingAlgorithm, PrunerFactory] = {
    "none": _none,
    "median": _median,
    "percentile": _percentile,
    "hyperband": _hyperband,
}


def build_pruner(early: EarlyStopping) -> optuna.pruners.BasePruner:
    """The Optuna pruner for a validated ``spec.earlyStopping``."""
    return PRUNER_FACTORIES[early.algorithm](early)
