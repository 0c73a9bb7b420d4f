"""Multi-objective search: hypervolume after N trials for each candidate default sampler.

Problems (2 objectives, both minimized, parameters in [0, 1]): ZDT1 (convex front), ZDT2
(concave front) and DTLZ2 (a quarter circle), each with ``--dims`` parameters. The figure is
the hypervolume of the trials found, as a share of the true front's (reference point 1.1 past
the front's nadir on each objective), after ``--budget`` trials; the median (and quartiles)
over ``--seeds`` seeds. Optuna's GPSampler needs PyTorch, which the shared environment never
installs: it is listed as not run when torch is missing.

    nice -n 10 .venv/bin/python -m bench.multi_objective --budget 50 --seeds 9
"""

from __future__ import annotations

import argparse
import importlib.util
import math
import statistics
import time
from collections.abc import Callable, Sequence

import numpy as np
import optuna
from kubetune.search.pareto import non_dominated
from optuna._hypervolume import compute_hypervolume

Problem = Callable[[Sequence[float]], tuple[float, float]]


def zdt1(x: Sequence[float]) -> tuple[float, float]:
    g = 1 + 9 * sum(x[1:]) / (len(x) - 1)
    return x[0], g * (1 - math.sqrt(x[0] / g))


def zdt2(x: Sequence[float]) -> tuple[float, float]:
    g = 1 + 9 * sum(x[1:]) / (len(x) - 1)
    return x[0], g * (1 - (x[0] / g) ** 2)


def dtlz2(x: Sequence[float]) -> tuple[float, float]:
    g = sum((v - 0.5) ** 2 for v in x[1:])
    angle = x[0] * math.pi / 2
    return (1 + g) * math.cos(angle), (1 + g) * math.sin(angle)


PROBLEMS: dict[str, tuple[Problem, Callable[[float], float]]] = {
    # name: (problem, the true front as f2(f1) for f1 in [0, 1])
    "zdt1": (zdt1, lambda f1: 1 - math.sqrt(f1)),
    "zdt2": (zdt2, lambda f1: 1 - f1**2),
    "dtlz2": (dtlz2, lambda f1: math.sqrt(max(0.0, 1 - f1**2))),
}
REFERENCE = np.array([1.1, 1.1])


def true_hypervolume(front: Callable[[float], float]) -> float:
    grid = np.linspace(0, 1, 2001)
    points = np.array([[f1, front(f1)] for f1 in grid])
    return float(compute_hypervolume(points, REFERENCE))


def hypervolume(values: list[tuple[float, float]]) -> float:
    inside = [v for v in values if v[0] < REFERENCE[0] and v[1] < REFERENCE[1]]
    if not inside:
        return 0.0
    front = [inside[i] for i in non_dominated(inside)]
    return float(compute_hypervolume(np.array(front), REFERENCE))


def sampler(name: str, seed: int, dims: int) -> optuna.samplers.BaseSampler:
    if name == "random":
        return optuna.samplers.RandomSampler(seed=seed)
    if name == "nsga2":
        return optuna.samplers.NSGAIISampler(seed=seed, population_size=10)
    if name == "nsga2-default":
        return optuna.samplers.NSGAIISampler(seed=seed)
    if name == "tpe":
        return optuna.samplers.TPESampler(
            seed=seed, multivariate=True, n_startup_trials=10, constant_liar=True
        )
    if name == "tpe-default":
        return optuna.samplers.TPESampler(seed=seed)
    if name == "parego-gp":
        from kubetune.search.parego import ParEgoSampler

        return ParEgoSampler(seed=seed, n_startup_trials=10)
    if name == "optuna-gp":
        return optuna.samplers.GPSampler(seed=seed)
    raise ValueError(name)


def run(
    problem: Problem, name: str, seed: int, dims: int, budget: int, parallel: int = 1
) -> tuple[float, float]:
    """Hypervolume found and CPU seconds; ``parallel`` trials asked before any is told (in
    batches, as ``parallelTrials`` runs them)."""
    study = optuna.create_study(
        directions=["minimize", "minimize"], sampler=sampler(name, seed, dims)
    )
    started = time.process_time()
    for first in range(0, budget, parallel):
        batch = []
        for _ in range(min(parallel, budget - first)):  # every suggestion before any result
            trial = study.ask()
            batch.append((trial, [trial.suggest_float(f"x{i}", 0.0, 1.0) for i in range(dims)]))
        for trial, x in batch:
            study.tell(trial, problem(x))
    values = [(t.values[0], t.values[1]) for t in study.trials if t.values]
    return hypervolume(values), time.process_time() - started


def torch_available() -> bool:
    return importlib.util.find_spec("torch") is not None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--budget", type=int, default=50)
    parser.add_argument("--seeds", type=int, default=9)
    parser.add_argument("--dims", type=int, default=5)
    parser.add_argument("--problems", default="zdt1,zdt2,dtlz2")
    parser.add_argument("--parallel", type=int, default=1, help="trials asked per batch")
    parser.add_argument(
        "--samplers", default="random,nsga2,nsga2-default,tpe,tpe-default,parego-gp,optuna-gp"
    )
    args = parser.parse_args()
    optuna.logging.set_verbosity(optuna.logging.ERROR)
    names = args.samplers.split(",")
    problems = args.problems.split(",")
    print(
        f"hypervolume after {args.budget} trials, % of the true front's; "
        f"{args.dims} parameters, seeds 0-{args.seeds - 1}, {args.parallel} trial(s) at a time"
    )
    print("median [quartiles]; CPU seconds per run in the last column\n")
    print("| sampler | " + " | ".join(problems) + " | CPU s/run |")
    print("|---" * (len(problems) + 2) + "|")
    for name in names:
        if name == "optuna-gp" and not torch_available():
            print(f"| {name} | " + " | ".join("not run (needs PyTorch)" for _ in problems) + " | |")
            continue
        cells, seconds = [], []
        for problem_name in problems:
            problem, front = PROBLEMS[problem_name]
            best = true_hypervolume(front)
            shares = []
            for seed in range(args.seeds):
                volume, cpu = run(problem, name, seed, args.dims, args.budget, args.parallel)
                shares.append(100 * volume / best)
                seconds.append(cpu)
            q1, median, q3 = (
                statistics.quantiles(shares, n=4, method="inclusive")
                if len(shares) > 1
                else (shares[0],) * 3
            )
            cells.append(f"{median:.1f} [{q1:.1f}-{q3:.1f}]")
        print(
            f"| {name} | " + " | ".join(cells) + f" | {statistics.fmean(seconds):.2f} |", flush=True
        )


if __name__ == "__main__":
    main()
