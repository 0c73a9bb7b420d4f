"""Early stopping: how many trial-steps each algorithm saves, and what it costs in best objective.

The same seeded study runs through kubetune's own tuning loop (a ``TuningJob`` spec,
``TuningStudy`` on Optuna's in-memory storage, the pure reconcile core driven by ``Tuner``)
once per ``spec.earlyStopping`` algorithm. The strategy is ``random`` by default: its seeded
suggestions do not depend on results, so every algorithm sees the very same trials and the
differences are early stopping's alone (``--strategy bayesian`` adds the sampler's feedback).
An in-memory backend "runs" the trials: every observation advances each running trial by one
step and reports its learning curve so far, the way a followed pod log or a Prometheus query
would; a trial the reconcile core stops consumes no further steps. ``parallelTrials`` trials
are in flight at once.

Workloads:

* ``curves`` (default): simulated learning curves with known asymptotes. A trial's parameters
  set where its curve ends (the asymptote, the objective it would reach) and how fast it gets
  there; fast learners with poor asymptotes make the curves cross, which is what makes early
  stopping hard. Deterministic per seed, with a little per-step noise.
* ``gbm`` (``--workloads gbm``, needs scikit-learn): a real staged model: gradient boosting on
  scikit-learn's diabetes data, validation RMSE after every 8 boosting stages (``STAGES_PER_STEP``).

    python -m bench.early_stopping                  # curves, 5 seeds: a few seconds
    python -m bench.early_stopping --quick          # smoke run
    python -m bench.early_stopping --equal-compute  # + the equal-compute table
    python -m bench.early_stopping --strategy bayesian   # with the sampler's feedback: minutes
    python -m bench.early_stopping --workloads curves,gbm --seeds 3

Means over seeds. First the same number of trials for every algorithm: trials pruned, total
trial-steps consumed and their ratio to ``none``, the best objective reached (the best completed
trial's final value) and its gap to ``none``'s. With ``--equal-compute``, then at equal compute:
each early-stopping algorithm runs trials (up to 4x as many) until it has consumed as many
trial-steps as ``none`` did, which is how the saved steps pay off.
"""

from __future__ import annotations

import argparse
import math
import os
import random
import statistics
import sys
import time
from collections.abc import Callable, Collection, Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from typing import Any

from bench.common import describe, diabetes, machine, metric_series, succeeded, tuningjob

Params = Mapping[str, Any]
METRIC = "loss"
ALGORITHMS: dict[str, dict[str, Any]] = {
    "none": {"algorithm": "none"},
    "median": {"algorithm": "median", "minTrials": 5, "startStep": 3},
    "percentile": {"algorithm": "percentile", "percentile": 25.0, "minTrials": 5, "startStep": 3},
    "hyperband": {"algorithm": "hyperband", "minResource": 1, "reductionFactor": 3},
}


# ---- workloads -------------------------------------------------------------------------------
@dataclass(frozen=True)
class Workload:
    name: str
    parameters: list[dict[str, Any]]
    steps: int
    curve: Callable[[Params, int], list[float]]  # the whole curve of a trial, given a seed


def _curve(params: Params, seed: int, steps: int) -> list[float]:
    lr = float(params["learning_rate"])
    depth = int(params["depth"])
    dropout = float(params["dropout"])
    # where the curve ends: best at lr 1e-2, depth 5, dropout 0.2 (asymptote 0.1)
    asymptote = 0.1 + 0.15 * (math.log10(lr) + 2) ** 2 + 0.05 * (depth - 5) ** 2
    asymptote += 0.5 * (dropout - 0.2) ** 2
    # how fast it gets there: large learning rates learn fast (and end badly when too large)
    rate = min(1.5, max(0.03, 4.0 * lr**0.5))
    start = 2.5
    noise = random.Random(f"{seed}:{sorted(params.items())}")
    return [
        asymptote + (start - asymptote) * math.exp(-rate * step) + noise.gauss(0, 0.005)
        for step in range(steps)
    ]


CURVES = Workload(
    "curves",
    [
        {"name": "learning_rate", "type": "float", "min": 1e-4, "max": 1.0, "scale": "log"},
        {"name": "depth", "type": "int", "min": 1, "max": 9},
        {"name": "dropout", "type": "float", "min": 0.0, "max": 0.7},
    ],
    27,
    lambda params, seed: _curve(params, seed, 27),
)


STAGES_PER_STEP = 8


def _gbm_curve(params: Params, seed: int) -> list[float]:
    from sklearn.ensemble import GradientBoostingRegressor

    x_train, x_valid, y_train, y_valid = diabetes(holdout=0.3)
    model = GradientBoostingRegressor(
        learning_rate=float(params["learning_rate"]),
        max_depth=int(params["max_depth"]),
        subsample=float(params["subsample"]),
        n_estimators=27 * STAGES_PER_STEP,
        random_state=seed,
    ).fit(x_train, y_train)
    curve = []
    for stage, predicted in enumerate(model.staged_predict(x_valid), start=1):
        if stage % STAGES_PER_STEP == 0:
            curve.append(float(((predicted - y_valid) ** 2).mean() ** 0.5))
    return curve


GBM = Workload(
    "gbm",
    [
        {"name": "learning_rate", "type": "float", "min": 0.005, "max": 0.5, "scale": "log"},
        {"name": "max_depth", "type": "int", "min": 1, "max": 6},
        {"name": "subsample", "type": "float", "min": 0.5, "max": 1.0},
    ],
    27,
    _gbm_curve,
)
WORKLOADS = {"curves": CURVES, "gbm": GBM}


# ---- one run through the reconcile core --------------------------------------------------------
class SteppingBackend:
    """Trials advance one step per observation; stopped trials consume nothing more."""

    def __init__(self, workload: Workload, seed: int) -> None:
        self.workload = workload
        self.seed = seed
        self.curves: dict[int, list[float]] = {}
        self.done: dict[int, int] = {}
        self.stopped: set[int] = set()
        self.consumed = 0

    def launch(self, number: int, params: Mapping[str, Any]) -> None:
        if number not in self.curves:
            self.curves[number] = self.workload.curve(params, self.seed)
            self.done[number] = 0

    def stop(self, number: int) -> None:
        self.stopped.add(number)

    def observe(self, running: Collection[int]) -> Mapping[int, Any]:
        from kubetune.controller.model import Phase, RuntimeTrial

        observed = {}
        for number in sorted(running):
            if number not in self.curves or number in self.stopped:
                continue
            curve = self.curves[number]
            if self.done[number] < len(curve):
                self.done[number] += 1
                self.consumed += 1
            if self.done[number] == len(curve):
                observed[number] = succeeded(number, METRIC, curve)
            else:
                so_far = metric_series(METRIC, curve[: self.done[number]])
                observed[number] = RuntimeTrial(number, Phase.RUNNING, metrics=so_far)
        return observed


@dataclass(frozen=True)
class RunResult:
    workload: str
    algorithm: str
    seed: int
    trials: int
    pruned: int
    steps: int
    best: float
    seconds: float


def manifest(
    workload: Workload,
    early: Mapping[str, Any],
    seed: int,
    trials: int,
    parallel: int,
    strategy: str = "random",
) -> dict[str, Any]:
    early = dict(early)
    if early["algorithm"] == "hyperband":
        early["maxResource"] = workload.steps
    return tuningjob(
        f"bench-{workload.name}",
        workload.parameters,
        metric=METRIC,
        trials=trials,
        parallel=parallel,
        algorithm=strategy,
        seed=seed,
        early_stopping=early,
    )


def run_once(
    workload_name: str,
    algorithm: str,
    seed: int,
    trials: int = 40,
    parallel: int = 4,
    step_budget: int | None = None,
    strategy: str = "random",
) -> RunResult:
    """One study. With ``step_budget``, trials go on (up to 4x ``trials``) until that many
    trial-steps are consumed: what early stopping buys at equal compute."""
    import optuna
    from kubetune.api import parse_tuningjob
    from kubetune.controller.tuner import Tuner
    from kubetune.search.study import TuningStudy
    from kubetune.trials import TrialState

    workload = WORKLOADS[workload_name]
    max_trials = trials if step_budget is None else 4 * trials
    job = parse_tuningjob(
        manifest(workload, ALGORITHMS[algorithm], seed, max_trials, parallel, strategy)
    )
    began = time.perf_counter()
    study = TuningStudy(job, optuna.storages.InMemoryStorage())
    backend = SteppingBackend(workload, seed)
    tuner = Tuner(job, study, backend, clock=lambda: study.started_at)
    for _ in range(max_trials * (workload.steps + 2) * 2):
        if tuner.step().completion is not None:
            break
        if step_budget is not None and backend.consumed >= step_budget:
            break
    records = study.records()
    if step_budget is not None:  # trials cut off by the budget did not finish: not counted
        records = [t for t in records if t.state is not TrialState.RUNNING]
    complete = [t.objective for t in records if t.state is TrialState.COMPLETE]
    return RunResult(
        workload_name,
        algorithm,
        seed,
        len(records),
        sum(1 for t in records if t.state is TrialState.PRUNED),
        backend.consumed,
        min(v for v in complete if v is not None) if complete else math.inf,
        time.perf_counter() - began,
    )


# ---- report ----------------------------------------------------------------------------------
def table(results: Sequence[RunResult], algorithms: Sequence[str], title: str = "") -> str:
    lines = []
    for workload in dict.fromkeys(r.workload for r in results):
        rows = [r for r in results if r.workload == workload]
        baseline = [r for r in rows if r.algorithm == "none"]
        base_steps = statistics.mean(r.steps for r in baseline) if baseline else None
        base_best = statistics.mean(r.best for r in baseline) if baseline else None
        seeds = len({r.seed for r in rows})
        lines += [
            f"**{workload}**{title}: {WORKLOADS[workload].steps} steps per trial, "
            f"means over {seeds} seed(s)",
            "",
            "| earlyStopping | trials | pruned | trial-steps | vs none | best objective "
            "| vs none |",
            "|---|---|---|---|---|---|---|",
        ]
        for algorithm in algorithms:
            mine = [r for r in rows if r.algorithm == algorithm]
            if not mine:
                continue
            steps = statistics.mean(r.steps for r in mine)
            best = statistics.mean(r.best for r in mine)
            pruned = statistics.mean(r.pruned for r in mine)
            count = statistics.mean(r.trials for r in mine)
            ratio = f"{steps / base_steps:.0%}" if base_steps else ""
            gap = f"{best - base_best:+.4f}" if base_best is not None else ""
            lines.append(
                f"| {algorithm} | {count:.1f} | {pruned:.1f} | {steps:.0f} | {ratio} "
                f"| {best:.4f} | {gap} |"
            )
        lines.append("")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--workloads", default="curves", help="curves,gbm")
    parser.add_argument("--algorithms", default=",".join(ALGORITHMS))
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--trials", type=int, default=40)
    parser.add_argument("--parallel", type=int, default=4)
    parser.add_argument(
        "--strategy",
        default="random",
        help="random (default: every algorithm sees the very same trials) or bayesian, ...",
    )
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1, help="processes")
    parser.add_argument("--quick", action="store_true", help="1 seed, 16 trials")
    parser.add_argument(
        "--equal-compute",
        action="store_true",
        help="also: each algorithm runs trials until it used as many trial-steps as none",
    )
    args = parser.parse_args(argv)
    if args.quick:
        args.seeds, args.trials = 1, 16
    algorithms = args.algorithms.split(",")
    print(describe(machine()), flush=True)
    runs = [
        (workload, algorithm, seed, args.trials, args.parallel, None, args.strategy)
        for workload in args.workloads.split(",")
        for seed in range(args.seeds)
        for algorithm in algorithms
    ]
    with ProcessPoolExecutor(max_workers=max(1, args.jobs)) as pool:
        results = list(pool.map(_run, runs))
        print(table(results, algorithms, f", same {args.trials} trials"))
        if args.equal_compute:
            # Equal compute: the steps early stopping saved spent on more trials.
            baseline = [r for r in results if r.algorithm == "none"]
            budgets = {(r.workload, r.seed): r.steps for r in baseline}
            equal = [
                (workload, algorithm, seed, trials, parallel, budgets[(workload, seed)], strategy)
                for workload, algorithm, seed, trials, parallel, _, strategy in runs
                if algorithm != "none" and (workload, seed) in budgets
            ]
            rescued = list(pool.map(_run, equal))
            if rescued:
                print(table([*baseline, *rescued], algorithms, ", same trial-steps as none"))
    return 0


def _run(arguments: tuple[Any, ...]) -> RunResult:
    return run_once(*arguments)


if __name__ == "__main__":
    sys.exit(main())
