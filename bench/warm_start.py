"""Warm start: trials to target with the completed trials of a parent run vs a cold start.

For each benchmark of ``bench/search.py`` (Branin, Hartmann6) and each seed:

- **cold**: the ``bayesian`` strategy from nothing;
- **identical**: warm-started (``identicalDataAndAlgorithm``) from a parent run of
  ``PARENT_TRIALS`` trials of the same objective (the parent's own seed differs);
- **transfer**: warm-started (``transferLearning``) from a parent run of a *related* objective:
  the same function with its inputs shifted by 5% of each range and its values scaled and offset
  (``3 f(x + shift) + 100``), so the parent's values are on another scale and its optimum is
  near, not at, the child's.

A run stops when one of its own trials reaches the benchmark's target (parent trials never
count); the table gives the median trials to target over the seeds (a seed that never reaches
it counts as budget + 1) and how many reached it.

    nice .venv/bin/python -m bench.warm_start [--seeds 10] [--benchmarks branin hartmann6]
"""

from __future__ import annotations

import argparse
import statistics
from collections.abc import Callable, Mapping
from typing import Any

from bench.common import describe, machine, tuningjob
from bench.search import BENCHMARKS, Benchmark

PARENT_TRIALS = 30
METRIC = "loss"
SHIFT = 0.05

Params = Mapping[str, Any]


def related(benchmark: Benchmark) -> Callable[[Params], float]:
    """The benchmark's objective on inputs shifted by ``SHIFT`` of each range, scaled and offset."""
    spans = {p["name"]: (p["max"] - p["min"]) for p in benchmark.parameters}
    lows = {p["name"]: p["min"] for p in benchmark.parameters}
    highs = {p["name"]: p["max"] for p in benchmark.parameters}

    def objective(params: Params) -> float:
        shifted = {
            name: min(highs[name], max(lows[name], float(v) + SHIFT * spans[name]))
            for name, v in params.items()
        }
        return 3.0 * benchmark.objective(shifted) + 100.0

    return objective


def _job(benchmark: Benchmark, name: str, seed: int, trials: int, **spec: Any) -> Any:
    from kubetune.api import parse_tuningjob

    document = tuningjob(
        name,
        benchmark.parameters,
        metric=METRIC,
        trials=trials,
        parallel=1,
        algorithm="bayesian",
        seed=seed,
    )
    document["spec"].update(spec)
    return parse_tuningjob(document)


def _run(
    study: Any, objective: Callable[[Params], float], trials: int, target: float | None
) -> int | None:
    """Ask-and-tell ``trials`` trials; the number of the first that reaches ``target``."""
    from kubetune.trials import TrialOutcome, TrialState

    for count in range(1, trials + 1):
        (record,) = study.ask(1)
        value = objective(record.params)
        study.tell(record.number, TrialOutcome(TrialState.COMPLETE, value, {METRIC: value}))
        if target is not None and value <= target:
            return count
    return None


def trials_to_target(benchmark: Benchmark, mode: str, seed: int) -> int | None:
    import optuna
    from kubetune.api.spec import WarmStartParent
    from kubetune.search.study import TuningStudy
    from kubetune.search.warm_start import ParentStudy, read_parent

    storage = optuna.storages.InMemoryStorage()
    spec: dict[str, Any] = {}
    if mode != "cold":
        parent_objective = benchmark.objective if mode == "identical" else related(benchmark)
        parent = TuningStudy(_job(benchmark, "parent", 1000 + seed, PARENT_TRIALS), storage)
        _run(parent, parent_objective, PARENT_TRIALS, None)
        kind = "identicalDataAndAlgorithm" if mode == "identical" else "transferLearning"
        spec["warmStart"] = {"type": kind, "parents": [{"name": "parent"}]}

    def load(parent: WarmStartParent, metric: str) -> ParentStudy:
        return read_parent(storage, parent.name, parent.name, metric)

    child = TuningStudy(
        _job(benchmark, "child", seed, benchmark.budget, **spec), storage, parents=load
    )
    return _run(child, benchmark.objective, benchmark.budget, benchmark.target)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=10)
    parser.add_argument("--benchmarks", nargs="+", default=["branin", "hartmann6"])
    parser.add_argument("--budget", type=int, default=None, help="Override each budget.")
    parser.add_argument("--modes", nargs="+", default=["cold", "identical", "transfer"])
    args = parser.parse_args()
    print(describe(machine()))
    print(
        f"\n| benchmark | start | reached target | median trials to target (own trials; "
        f"parent: {PARENT_TRIALS} trials) |"
    )
    print("|---|---|---|---|")
    for name in args.benchmarks:
        benchmark = BENCHMARKS[name]
        if args.budget is not None:
            benchmark = Benchmark(**{**benchmark.__dict__, "budget": args.budget})
        for mode in args.modes:
            results = [trials_to_target(benchmark, mode, seed) for seed in range(args.seeds)]
            hits = [r for r in results if r is not None]
            counted = [r if r is not None else benchmark.budget + 1 for r in results]
            print(
                f"| {name} (target {benchmark.target:g}, budget {benchmark.budget}) | {mode} | "
                f"{len(hits)}/{len(results)} | {statistics.median(counted):g} |",
                flush=True,
            )


if __name__ == "__main__":
    main()
