"""``scale: auto`` against the right and the wrong declared scale.

Two objectives over ``lr`` in ``[1e-6, 1]`` and ``x`` in ``[0, 1]`` (minimize):

- **log-optimal**: ``(log10(lr) + 4)^2 + 4 (x - 0.3)^2``: best at ``lr = 1e-4``, a smooth bowl in
  decades (a learning rate);
- **linear-optimal**: ``(10 (lr - 0.6))^2 + 4 (x - 0.3)^2``: best at ``lr = 0.6``, a bowl in the
  value (a dropout rate), which a log scale squeezes into its last decade.

Each is tuned with ``lr`` declared ``linear``, ``log`` and ``auto`` (the ``bayesian`` strategy,
one trial at a time) until a trial reaches the target (0.05); the table gives the median trials
to target over the seeds (a seed that never reaches it counts as budget + 1).

    nice .venv/bin/python -m bench.scale_auto [--seeds 10] [--budget 80]
"""

from __future__ import annotations

import argparse
import math
import statistics
from collections.abc import Callable, Mapping
from typing import Any

from bench.common import describe, machine, tuningjob

TARGET = 0.05
METRIC = "loss"
Params = Mapping[str, Any]


def log_optimal(params: Params) -> float:
    return (math.log10(float(params["lr"])) + 4) ** 2 + 4 * (float(params["x"]) - 0.3) ** 2


def linear_optimal(params: Params) -> float:
    return (10 * (float(params["lr"]) - 0.6)) ** 2 + 4 * (float(params["x"]) - 0.3) ** 2


OBJECTIVES: dict[str, Callable[[Params], float]] = {
    "log-optimal": log_optimal,
    "linear-optimal": linear_optimal,
}
SCALES = ("linear", "log", "auto")


def trials_to_target(
    objective: Callable[[Params], float], scale: str, seed: int, budget: int
) -> int | None:
    import optuna
    from kubetune.api import parse_tuningjob
    from kubetune.search.study import TuningStudy
    from kubetune.trials import TrialOutcome, TrialState

    parameters = [
        {"name": "lr", "type": "float", "min": 1e-6, "max": 1.0, "scale": scale},
        {"name": "x", "type": "float", "min": 0.0, "max": 1.0},
    ]
    job = parse_tuningjob(
        tuningjob(
            "scale",
            parameters,
            metric=METRIC,
            trials=budget,
            parallel=1,
            algorithm="bayesian",
            seed=seed,
        )
    )
    study = TuningStudy(job, optuna.storages.InMemoryStorage())
    for count in range(1, budget + 1):
        (record,) = study.ask(1)
        value = objective(record.params)
        study.tell(record.number, TrialOutcome(TrialState.COMPLETE, value, {METRIC: value}))
        if value <= TARGET:
            return count
    return None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=10)
    parser.add_argument("--budget", type=int, default=80)
    args = parser.parse_args()
    print(describe(machine()))
    print(f"\n| objective | lr declared | reached target {TARGET:g} | median trials to target |")
    print("|---|---|---|---|")
    for name, objective in OBJECTIVES.items():
        for scale in SCALES:
            results = [
                trials_to_target(objective, scale, s, args.budget) for s in range(args.seeds)
            ]
            hits = [r for r in results if r is not None]
            counted = [r if r is not None else args.budget + 1 for r in results]
            median = statistics.median(counted)
            print(f"| {name} | {scale} | {len(hits)}/{len(results)} | {median:g} |", flush=True)


if __name__ == "__main__":
    main()
