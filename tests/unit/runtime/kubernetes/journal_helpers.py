"""Drive a TuningStudy through the ConfigMap journal and compare what a fresh reader sees.

Shared by the unit tests (in-memory fake API) and the integration tests (kubesim).
"""

from __future__ import annotations

import random
import time
from typing import Any

import optuna
from kubetune.api import TuningJob, parse_tuningjob
from kubetune.metrics.logs import Observation
from kubetune.runtime.kubernetes.journal import KubernetesJournalStorage
from kubetune.search.study import TuningStudy
from kubetune.trials import TrialOutcome, TrialState
from optuna.trial import TrialState as OptunaState


def tuningjob(name: str = "study-test", parallel: int = 4) -> TuningJob:
    return parse_tuningjob(
        {
            "apiVersion": "kubetune.io/v1alpha1",
            "kind": "TuningJob",
            "metadata": {"name": name},
            "spec": {
                "objective": {"metric": "loss", "direction": "minimize"},
                "parameters": [
                    {"name": "lr", "type": "float", "min": 0.0001, "max": 0.1, "scale": "log"},
                    {"name": "depth", "type": "int", "min": 1, "max": 8},
                    {"name": "loss", "type": "categorical", "values": ["l1", "l2"]},
                ],
                "strategy": {"algorithm": "random", "seed": 11},
                "limits": {"maxTrials": 100_000, "parallelTrials": parallel},
                "trialTemplate": {
                    "spec": {
                        "template": {
                            "spec": {
                                "containers": [
                                    {"name": "train", "image": "busybox", "command": ["true"]},
                                ]
                            }
                        }
                    }
                },
            },
        }
    )


def outcome(number: int) -> TrialOutcome:
    """A deterministic mix of complete, failed and pruned trials with metrics and curves."""
    curve = tuple(Observation("loss", step, 1.0 / (step + number + 1)) for step in range(3))
    if number % 7 == 3:
        return TrialOutcome(TrialState.FAILED, reason="Error", message=f"exit code {number}")
    if number % 7 == 5:
        return TrialOutcome(TrialState.PRUNED, reason="Pruned", intermediate=curve)
    return TrialOutcome(
        TrialState.COMPLETE,
        objective=1.0 / (number + 1),
        metrics={"loss": 1.0 / (number + 1), "accuracy": 0.5 + number / 1e6},
        intermediate=curve,
    )


def run_trials(
    study: TuningStudy, storage: KubernetesJournalStorage, count: int, parallel: int = 4
) -> None:
    """What the reconcile loop does: ask a wave, flush before launching, tell, flush."""
    done = 0
    while done < count:
        wave = study.ask(min(parallel, count - done))
        storage.flush()  # before the trial Jobs would be created
        for record in wave:
            study.tell(record.number, outcome(record.number))
        storage.flush()  # end of the reconcile step
        done += len(wave)


def trials_view(storage: optuna.storages.BaseStorage, name: str) -> list[dict[str, Any]]:
    """Everything that must survive a restart, per trial."""
    study_id = storage.get_study_id_from_name(name)
    return [
        {
            "number": t.number,
            "state": t.state,
            "params": t.params,
            "distributions": t.distributions,
            "values": t.values,
            "user_attrs": t.user_attrs,
            "system_attrs": t.system_attrs,
            "intermediate_values": t.intermediate_values,
            "datetime_start": t.datetime_start,
            "datetime_complete": t.datetime_complete,
        }
        for t in storage.get_all_trials(study_id, deepcopy=False)
    ]


def write_bulk_journal(
    storage: optuna.storages.BaseStorage, name: str, trials: int, flush_every: int = 100
) -> float:
    """A journal of ``trials`` realistic trials written through Optuna's storage API (what
    ``study.ask``/``tell`` would log, without the sampler's cost); returns seconds taken."""
    assert isinstance(storage, KubernetesJournalStorage)
    rng = random.Random(5)
    distributions = {
        "lr": optuna.distributions.FloatDistribution(1e-4, 0.1, log=True),
        "depth": optuna.distributions.IntDistribution(1, 8),
        "loss": optuna.distributions.CategoricalDistribution(["l1", "l2"]),
    }
    started = time.perf_counter()
    study_id = storage.create_new_study([optuna.study.StudyDirection.MINIMIZE], name)
    for number in range(trials):
        trial_id = storage.create_new_trial(study_id)
        for param, distribution in distributions.items():
            value = distribution.to_internal_repr(
                rng.choice(["l1", "l2"])
                if param == "loss"
                else rng.randint(1, 8)
                if param == "depth"
                else rng.uniform(1e-4, 0.1)
            )
            storage.set_trial_param(trial_id, param, value, distribution)
        storage.set_trial_user_attr(
            trial_id, "kubetune.metrics", {"loss": rng.random(), "accuracy": rng.random()}
        )
        for step in range(3):
            storage.set_trial_intermediate_value(trial_id, step, rng.random())
        state = OptunaState.FAIL if number % 13 == 0 else OptunaState.COMPLETE
        values = None if state is OptunaState.FAIL else [rng.random()]
        storage.set_trial_state_values(trial_id, state, values)
        if (number + 1) % flush_every == 0:
            storage.flush()
    storage.flush()
    return time.perf_counter() - started
