"""``spec.constraints``: infeasibility modelled (constrained EI) against shown as a penalty.

Two problems with a known feasible optimum (minimize):

- **Gramacy's toy** (Gramacy et al. 2016, "Modeling an augmented Lagrangian for blackbox
  constrained optimization"): ``x1 + x2`` on ``[0, 1]^2`` subject to
  ``1.5 - x1 - 2 x2 - 0.5 sin(2 pi (x1^2 - 2 x2)) <= 0`` and ``x1^2 + x2^2 - 1.5 <= 0``; the
  best feasible value is 0.5998, on the boundary of a wavy feasible region;
- **Branin in a disk** (Gardner et al. 2014): Branin subject to
  ``(x1 - 2.5)^2 + (x2 - 7.5)^2 <= 50``, which leaves one of its three minima (0.3979) feasible.

Each is tuned with the ``bayesian`` strategy, one trial at a time, the constraint values
reported as metrics under ``spec.constraints``, in three modes:

- ``constraints``: what kubetune does (the GP models each constraint and multiplies its
  expected improvement by the probability of feasibility, ``kubetune.search.feasibility``);
- ``penalty``: what it did before: the GP is not shown the constraint values, and infeasible
  trials are shown with the study's worst value (``kubetune.search.views.ConstrainedSampler``);
- ``tpe``: ``bayesian`` with ``gpMaxTrials: 0``, Optuna's TPE after the random start-up, which
  reads the same stored constraint values (constrained TPE: infeasible trials ranked below the
  feasible ones by their violation).

The table gives the median trials until a feasible trial reaches the target (a seed that never
does counts as budget + 1) and how many of those trials were infeasible.

    nice -n 10 .venv/bin/python -m bench.constrained [--seeds 10] [--budget 60]
"""

from __future__ import annotations

import argparse
import contextlib
import math
import statistics
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from bench.common import describe, machine, tuningjob

METRIC = "value"
Params = Mapping[str, Any]


@dataclass(frozen=True)
class Problem:
    parameters: list[dict[str, Any]]
    objective: Callable[[Params], float]
    constraints: dict[str, Callable[[Params], float]]  # metric -> value, feasible when <= 0
    target: float


def gramacy(p: Params) -> float:
    return float(p["x1"]) + float(p["x2"])


def gramacy_wave(p: Params) -> float:
    x1, x2 = float(p["x1"]), float(p["x2"])
    return 1.5 - x1 - 2 * x2 - 0.5 * math.sin(2 * math.pi * (x1**2 - 2 * x2))


def gramacy_disk(p: Params) -> float:
    return float(p["x1"]) ** 2 + float(p["x2"]) ** 2 - 1.5


def branin(p: Params) -> float:
    x1, x2 = float(p["x1"]), float(p["x2"])
    b, c, t = 5.1 / (4 * math.pi**2), 5 / math.pi, 1 / (8 * math.pi)
    return (x2 - b * x1**2 + c * x1 - 6) ** 2 + 10 * (1 - t) * math.cos(x1) + 10


def branin_disk(p: Params) -> float:
    return (float(p["x1"]) - 2.5) ** 2 + (float(p["x2"]) - 7.5) ** 2 - 50


def _floats(*bounds: tuple[str, float, float]) -> list[dict[str, Any]]:
    return [{"name": n, "type": "float", "min": low, "max": high} for n, low, high in bounds]


PROBLEMS: dict[str, Problem] = {
    "Gramacy toy (best 0.5998)": Problem(
        _floats(("x1", 0.0, 1.0), ("x2", 0.0, 1.0)),
        gramacy,
        {"wave": gramacy_wave, "disk": gramacy_disk},
        target=0.61,
    ),
    "Branin in a disk (best 0.3979)": Problem(
        _floats(("x1", -5.0, 10.0), ("x2", 0.0, 15.0)),
        branin,
        {"disk": branin_disk},
        target=0.41,
    ),
}
MODES = ("penalty", "constraints", "tpe")


@contextlib.contextmanager
def _penalty_mode() -> Iterator[None]:
    """The GP as it was before constraints were modelled: blind to the constraint values."""
    from kubetune.search import feasibility

    original = feasibility.constraint_values
    feasibility.constraint_values = lambda trials: None
    try:
        yield
    finally:
        feasibility.constraint_values = original


def run(problem: Problem, mode: str, seed: int, budget: int) -> tuple[int | None, int]:
    """Trials until a feasible one reaches the target (None: never), and the infeasible trials
    among them."""
    import optuna
    from kubetune.api import parse_tuningjob
    from kubetune.search.study import TuningStudy
    from kubetune.search.views import ConstrainedSampler
    from kubetune.trials import TrialOutcome, TrialState

    document = tuningjob(
        "constrained",
        problem.parameters,
        metric=METRIC,
        trials=budget,
        parallel=1,
        algorithm="bayesian",
        seed=seed,
        settings={"gpMaxTrials": 0} if mode == "tpe" else None,
    )
    document["spec"]["constraints"] = [{"metric": m, "max": 0.0} for m in problem.constraints]
    study = TuningStudy(parse_tuningjob(document), optuna.storages.InMemoryStorage())
    if mode == "penalty":
        study.study.sampler = ConstrainedSampler(study.study.sampler)
    infeasible = 0
    with _penalty_mode() if mode == "penalty" else contextlib.nullcontext():
        for count in range(1, budget + 1):
            (record,) = study.ask(1)
            value = problem.objective(record.params)
            metrics = {METRIC: value}
            metrics.update({m: f(record.params) for m, f in problem.constraints.items()})
            study.tell(record.number, TrialOutcome(TrialState.COMPLETE, value, metrics))
            feasible = all(metrics[m] <= 0 for m in problem.constraints)
            infeasible += not feasible
            if feasible and value <= problem.target:
                return count, infeasible
    return None, infeasible


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=10)
    parser.add_argument("--budget", type=int, default=60)
    args = parser.parse_args()
    print(describe(machine()))
    print(
        "\n| problem (target) | sampler sees | reached target | median trials to target "
        "| median infeasible trials on the way |"
    )
    print("|---|---|---|---|---|")
    for name, problem in PROBLEMS.items():
        for mode in MODES:
            results = [run(problem, mode, s, args.budget) for s in range(args.seeds)]
            hits = [r for r, _ in results if r is not None]
            counted = [r if r is not None else args.budget + 1 for r, _ in results]
            infeasible = statistics.median(i for _, i in results)
            print(
                f"| {name} ({problem.target:g}) | {mode} | {len(hits)}/{len(results)} "
                f"| {statistics.median(counted):g} | {infeasible:g} |",
                flush=True,
            )


if __name__ == "__main__":
    main()
