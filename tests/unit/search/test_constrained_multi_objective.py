"""``spec.constraints`` with ``spec.objectives`` (and ``scale: auto``): the sampler models the
constraint values, the Pareto front and the status count only feasible trials as such."""

from __future__ import annotations

import optuna
from kubetune.controller.status import tuningjob_status
from kubetune.search.study import TuningStudy
from kubetune.trials import TrialOutcome, TrialState

from tests.unit.search.test_multi_objective_study import multi_job

AUTO = [
    {"name": "x", "type": "float", "min": 1e-4, "max": 1.0, "scale": "auto"},
    {"name": "y", "type": "float", "min": 0.0, "max": 1.0},
]


def test_a_constrained_multi_objective_study_suggests_feasible_points(
    storage: optuna.storages.BaseStorage,
) -> None:
    extra = {"spec.constraints": [{"metric": "x-value", "min": 0.5}], "spec.parameters": AUTO}
    job = multi_job(extra=extra)
    study = TuningStudy(job, storage)
    for _ in range(24):
        (record,) = study.ask(1)
        x, y = float(record.params["x"]), float(record.params["y"])
        # loss wants x small, acc wants y large: the feasible front lies on x = 0.5.
        metrics = {"loss": x + 0.1 * y, "acc": y - 0.1 * x, "x-value": x}
        study.tell(
            record.number,
            TrialOutcome(
                TrialState.COMPLETE, metrics=metrics, values=(metrics["loss"], metrics["acc"])
            ),
        )
    trials = study.records()
    modelled = [float(t.params["x"]) for t in trials[10:]]
    assert sum(x >= 0.45 for x in modelled) >= 0.7 * len(modelled)  # mostly feasible

    status = tuningjob_status(job.spec, "mo", trials, None, 0.0, 1.0, 1)

    infeasible = sum(1 for t in trials if float(t.params["x"]) < 0.5)
    assert status["trials"]["infeasible"] == infeasible
    front = status["paretoFront"]
    assert front
    assert all(float(p["parameters"]["x"]) >= 0.5 for p in front)
