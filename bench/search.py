"""Search efficiency: how many trials each strategy needs to reach a target.

Every run goes through kubetune's own tuning loop: a ``TuningJob`` spec, ``TuningStudy`` on
Optuna's in-memory storage and the pure reconcile core driven by ``Tuner``, with an in-memory
backend that evaluates the objective synchronously. ``parallelTrials: N`` is honoured the way a
cluster would: N trials are in flight, the oldest finishes, its result is recorded and the
next trial is suggested while the other N-1 still run (so parallel-aware sampling matters).

    python -m bench.search --quick             # smoke run: a minute
    python -m bench.search                     # full: 5 seeds, budget 200, parallel 1 and 4
    python -m bench.search --benchmarks hartmann6 --strategies bayesian,gp --seeds 5
    python -m bench.search --json results.json # also keep every run

A run stops when a trial reaches the benchmark's target (``objective.target``, the
``TargetReached`` rule) or after the budget. Reported per strategy: how many seeds reached the
target within the budget, the median number of finished trials when it was reached, the median
best value at the end of the run, and the median suggestion time and wall time per run.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import json
import os
import random
import statistics
import sys
import time
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass, field
from typing import Any

from bench.common import describe, machine, succeeded, tuningjob
from bench.problems import BENCHMARKS, Benchmark, Params, branin, hartmann6, svr_diabetes

METRIC = "objective"
__all__ = ["BENCHMARKS", "Benchmark", "branin", "hartmann6", "svr_diabetes"]


# ---- strategies ----------------------------------------------------------------------------
@dataclass(frozen=True)
class Strategy:
    name: str
    algorithm: str
    settings: dict[str, Any] = field(default_factory=dict)
    note: str = ""
    listed: bool = True  # run by default
    # Variants for experiments: module attributes set for the run ("module:NAME" -> value).
    patches: dict[str, Any] = field(default_factory=dict)


STRATEGIES: dict[str, Strategy] = {
    s.name: s
    for s in [
        Strategy("random", "random", note="RandomSampler"),
        Strategy(
            "tpe",
            "bayesian",
            {"gpMaxTrials": 0},
            note="bayesian with gpMaxTrials 0: multivariate TPE, constant liar (kubetune's "
            "previous default)",
        ),
        Strategy("gp", "gp", note="Optuna's GPSampler"),
        Strategy("cmaes", "cmaes", note="CmaEsSampler"),
        Strategy("bayesian", "bayesian", note="the default: GP, then TPE past gpMaxTrials"),
        Strategy(
            "ax",
            "peer:ax",
            note="Ax's default client API (Sobol, then BoTorch GP + log-noisy-EI), in its own "
            "venv (bench/peers)",
            listed=False,
        ),
        Strategy(
            "hebo",
            "peer:hebo",
            note="HEBO 0.3.6 defaults, synchronous batches, in its own venv (bench/peers)",
            listed=False,
        ),
        Strategy(
            "bayesian-fantasies",
            "bayesian",
            note="bayesian, running trials as 8 joint posterior fantasies (q-EI) not the believer",
            listed=False,
            patches={"kubetune.search.gp_sampler:PENDING_FANTASIES": 8},
        ),
        Strategy(
            "bayesian-believer",
            "bayesian",
            note="bayesian, running trials by the believer alone: no trust region (search.batch)",
            listed=False,
            patches={"kubetune.search.batch:TRUST_REGION_WIDTH": None},
        ),
        Strategy(
            "bayesian-tr25",
            "bayesian",
            note="bayesian with a trust region of a quarter lengthscale (half by default)",
            listed=False,
            patches={"kubetune.search.batch:TRUST_REGION_WIDTH": 0.25},
        ),
        Strategy(
            "bayesian-norestart",
            "bayesian",
            note="bayesian without the stagnation restarts",
            listed=False,
            patches={"kubetune.search.restarts:DEFAULT_PATIENCE": 10**9},
        ),
        Strategy(
            "bayesian-gp16",
            "bayesian",
            note="bayesian with TPE past 16 parameters (the default until 2026-12-06)",
            listed=False,
            patches={"kubetune.search.auto:GP_MAX_DIMENSIONS": 16},
        ),
        Strategy(
            "bayesian-gp20",
            "bayesian",
            note="bayesian with the GP's moderate lengthscale prior at any size (no sparse-axis "
            "prior past 16 parameters)",
            listed=False,
            patches={"kubetune.search.gaussian_process:SPARSE_AXES_MIN_DIMENSIONS": 10**9},
        ),
        Strategy(
            "bayesian-gp20-sparse",
            "bayesian",
            note="the GP to 32 parameters with the sparse-axis prior past 16 (the default since "
            "2026-12-06; the name of the earlier runs)",
            listed=False,
            patches={"kubetune.search.auto:GP_MAX_DIMENSIONS": 32},
        ),
        Strategy(
            "bayesian-dscaled",
            "bayesian",
            note="bayesian with a dimension-scaled log-normal lengthscale prior (Hvarfner et "
            "al. 2024, Ax's default) instead of the sparse-axis one past 16 parameters",
            listed=False,
            patches={"kubetune.search.gaussian_process:DIMENSION_SCALED": True},
        ),
        Strategy(
            "bayesian-joint",
            "bayesian",
            note="bayesian with the categories searched jointly in the acquisition "
            "(search/categorical.py) instead of swept around its winner",
            listed=False,
            patches={"kubetune.search.gp_sampler:JOINT_CATEGORIES": True},
        ),
        Strategy(
            "bayesian-gpmixed",
            "bayesian",
            note="bayesian with the GP on spaces up to half categorical (the default until "
            "2026-12-06; TPE from a third on since)",
            listed=False,
            patches={"kubetune.search.auto:GP_MAX_CATEGORICAL_SHARE": 0.51},
        ),
        Strategy(
            "bayesian-gpmixed-joint",
            "bayesian",
            note="bayesian-gpmixed with the categories searched jointly (bayesian-joint)",
            listed=False,
            patches={
                "kubetune.search.auto:GP_MAX_CATEGORICAL_SHARE": 0.51,
                "kubetune.search.gp_sampler:JOINT_CATEGORIES": True,
            },
        ),
        Strategy(
            "bayesian-s5",
            "bayesian",
            {"nStartupTrials": 5},
            note="bayesian with 5 random startup trials",
            listed=False,
        ),
    ]
}
SINGLE_SAMPLERS = ("random", "tpe", "gp", "cmaes", "ax", "hebo")  # the peers too, when run


def tuningjob_manifest(
    benchmark: Benchmark, strategy: Strategy, seed: int, parallel: int, stop_at_target: bool
) -> dict[str, Any]:
    return tuningjob(
        f"{benchmark.name}-{strategy.name}-{seed}-{parallel}",
        benchmark.parameters,
        metric=METRIC,
        trials=benchmark.budget,
        parallel=parallel,
        algorithm=strategy.algorithm,
        seed=seed,
        settings=strategy.settings,
        target=benchmark.target if stop_at_target else None,
    )


# ---- the in-memory backend -----------------------------------------------------------------
class Evaluations:
    """A run's results in finishing order: what the optimizer saw (noisy when the benchmark is)
    and the noise-free value behind it. The noise comes from the run's own stream, seeded by the
    seed, so every strategy of a seed sees the same noise sequence."""

    def __init__(self, benchmark: Benchmark, seed: int) -> None:
        self.benchmark = benchmark
        self.rng = random.Random(f"noise-{seed}")
        self.observed: list[float] = []
        self.true: list[float] = []

    def __call__(self, params: Params) -> float:
        true = self.benchmark.objective(params)
        noise = self.rng.gauss(0.0, self.benchmark.noise) if self.benchmark.noise else 0.0
        self.true.append(true)
        self.observed.append(true + noise)
        return true + noise

    def recommended(self) -> list[float]:
        """After each finished trial, the noise-free value of the trial the run would
        recommend then: the one with the best result seen (without noise: the best so far)."""
        out, best = [], 0
        for i, value in enumerate(self.observed):
            if value < self.observed[best]:
                best = i
            out.append(self.true[best])
        return out

    def trials_to_target(self) -> int | None:
        return next(
            (i + 1 for i, v in enumerate(self.recommended()) if v <= self.benchmark.target), None
        )


class InMemoryBackend:
    """Trials evaluated in this process: launched trials are in flight until ``finish_oldest``."""

    def __init__(self, evaluate: Callable[[Params], float]) -> None:
        from kubetune.controller.model import RuntimeTrial

        self.evaluate = evaluate
        self.in_flight: dict[int, Params] = {}
        self.done: dict[int, RuntimeTrial] = {}

    def observe(self, running: Collection[int]) -> Mapping[int, Any]:
        from kubetune.controller.model import Phase, RuntimeTrial

        observed: dict[int, RuntimeTrial] = {
            n: RuntimeTrial(n, Phase.RUNNING) for n in self.in_flight
        }
        observed.update((n, self.done[n]) for n in running if n in self.done)
        return observed

    def launch(self, number: int, params: Params) -> None:
        if number not in self.in_flight and number not in self.done:
            self.in_flight[number] = dict(params)

    def stop(self, number: int) -> None:
        self.in_flight.pop(number, None)

    def finish_oldest(self) -> None:
        number = next(iter(self.in_flight))
        value = self.evaluate(self.in_flight.pop(number))
        self.done[number] = succeeded(number, METRIC, [value])


# ---- one run -------------------------------------------------------------------------------
@dataclass
class RunResult:
    benchmark: str
    strategy: str
    seed: int
    parallel: int
    trials: int  # finished trials when the run ended
    trials_to_target: int | None  # finished trials when the first one reached the target
    best: float
    suggest_seconds: float
    wall_seconds: float
    models: dict[str, int] = field(default_factory=dict)  # bayesian: trials per model
    # After each finished trial, the noise-free value of the trial the run recommends then
    # (the best so far; with noise, the best-looking one): regret at any budget it ran to.
    trace: list[float] = field(default_factory=list)


def run_once(
    benchmark_name: str,
    strategy_name: str,
    seed: int,
    parallel: int,
    budget: int | None = None,
    stop_at_target: bool = True,
) -> RunResult:
    """One tuning run of a strategy on a benchmark: kubetune's through the reconcile core, a
    peer's (Ax, HEBO) through ``bench.peers.driver``."""
    benchmark = BENCHMARKS[benchmark_name]
    if budget is not None:
        benchmark = Benchmark(**{**asdict(benchmark), "budget": budget})
    evaluations = Evaluations(benchmark, seed)
    begun = time.perf_counter()
    models: dict[str, int] = {}
    strategy = STRATEGIES[strategy_name]
    if strategy.algorithm.startswith("peer:"):
        from bench.peers.driver import run_peer

        suggest = run_peer(
            strategy.algorithm.removeprefix("peer:"),
            benchmark.parameters,
            evaluations,
            seed=seed,
            parallel=parallel,
            budget=benchmark.budget,
            reached=lambda: stop_at_target and evaluations.trials_to_target() is not None,
        )
    else:
        with _patched(strategy.patches):
            suggest = _run_kubetune(
                benchmark, strategy, seed, parallel, stop_at_target, evaluations, models
            )
    trace = evaluations.recommended()
    return RunResult(
        benchmark=benchmark_name,
        strategy=strategy_name,
        seed=seed,
        parallel=parallel,
        trials=len(trace),
        trials_to_target=evaluations.trials_to_target(),
        best=trace[-1],
        suggest_seconds=suggest,
        wall_seconds=time.perf_counter() - begun,
        models=models,
        trace=trace,
    )


@contextlib.contextmanager
def _patched(patches: Mapping[str, Any]) -> Iterator[None]:
    """A strategy's experimental module attributes, set for one run and restored after."""
    saved = []
    for target, value in patches.items():
        module = importlib.import_module(target.split(":")[0])
        name = target.split(":")[1]
        saved.append((module, name, getattr(module, name)))
        setattr(module, name, value)
    try:
        yield
    finally:
        for module, name, old in reversed(saved):
            setattr(module, name, old)


def _run_kubetune(
    benchmark: Benchmark,
    strategy: Strategy,
    seed: int,
    parallel: int,
    stop_at_target: bool,
    evaluations: Evaluations,
    models: dict[str, int],
) -> float:
    """Runs kubetune's loop; returns its suggestion seconds and counts the models it used."""
    import optuna
    from kubetune.api import parse_tuningjob
    from kubetune.controller.tuner import Tuner
    from kubetune.search.auto import AutoSampler
    from kubetune.search.study import TuningStudy

    # The TargetReached rule sees results as reported: with noise, the run stops here instead,
    # on the noise-free value of the trial it would recommend.
    in_job_target = stop_at_target and not benchmark.noise
    job = parse_tuningjob(tuningjob_manifest(benchmark, strategy, seed, parallel, in_job_target))
    study = TuningStudy(job, optuna.storages.InMemoryStorage())
    sampler = study.study.sampler
    suggest = 0.0
    ask = study.ask

    def timed_ask(count: int) -> Any:
        nonlocal suggest
        start = time.perf_counter()
        try:
            return ask(count)
        finally:
            suggest += time.perf_counter() - start
            if isinstance(sampler, AutoSampler) and sampler.last_model is not None:
                key = sampler.last_model.value
                models[key] = models.get(key, 0) + count

    study.ask = timed_ask  # type: ignore[method-assign]
    backend = InMemoryBackend(evaluations)
    tuner = Tuner(job, study, backend)
    while True:
        result = tuner.step()
        if result.completion is not None:
            break
        if stop_at_target and evaluations.trials_to_target() is not None:
            break
        if not backend.in_flight:
            raise RuntimeError(f"{benchmark.name}/{strategy.name}: nothing in flight, no end")
        backend.finish_oldest()
    return suggest


def _run_task(task: tuple[str, str, int, int, int | None, bool]) -> RunResult:
    return run_once(*task)


def _init_worker() -> None:
    # One BLAS/torch thread per worker process: the workers already use every core.
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    os.environ.setdefault("MKL_NUM_THREADS", "1")
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)


# ---- summaries -----------------------------------------------------------------------------
@dataclass
class Summary:
    benchmark: str
    strategy: str
    parallel: int
    runs: int
    reached: int
    median_trials: float | None  # over the seeds that reached the target
    median_trials_all: float  # unreached seeds count as budget + 1 (a lower bound)
    median_best: float
    median_suggest: float
    median_wall: float
    trials_by_seed: dict[int, float] = field(default_factory=dict)  # censored, as above


def summarize(results: Sequence[RunResult], budgets: Mapping[str, int]) -> list[Summary]:
    groups: dict[tuple[str, str, int], list[RunResult]] = {}
    for result in results:
        groups.setdefault((result.benchmark, result.strategy, result.parallel), []).append(result)
    summaries = []
    for (benchmark, strategy, parallel), runs in groups.items():
        hits = [r.trials_to_target for r in runs if r.trials_to_target is not None]
        censored = [
            r.trials_to_target if r.trials_to_target is not None else budgets[benchmark] + 1
            for r in runs
        ]
        summaries.append(
            Summary(
                benchmark,
                strategy,
                parallel,
                len(runs),
                len(hits),
                statistics.median(hits) if hits else None,
                statistics.median(censored),
                statistics.median(r.best for r in runs),
                statistics.median(r.suggest_seconds for r in runs),
                statistics.median(r.wall_seconds for r in runs),
                {r.seed: c for r, c in zip(runs, censored, strict=True)},
            )
        )
    order = {name: i for i, name in enumerate(STRATEGIES)}
    summaries.sort(key=lambda s: (s.benchmark, s.parallel, order.get(s.strategy, 99)))
    return summaries


def _trials(summary: Summary, budget: int) -> str:
    if summary.median_trials is None:
        return f"> {budget}"
    if summary.reached * 2 <= summary.runs:  # the median of all seeds is censored
        return f"> {budget} ({summary.median_trials:g} where reached)"
    return f"{summary.median_trials_all:g}"


def markdown_tables(summaries: Sequence[Summary], budgets: Mapping[str, int]) -> str:
    lines: list[str] = []
    current: tuple[str, int] | None = None
    for s in summaries:
        if (s.benchmark, s.parallel) != current:
            current = (s.benchmark, s.parallel)
            bench = BENCHMARKS[s.benchmark]
            lines += [
                "",
                f"**{s.benchmark}**, parallelTrials {s.parallel}, budget {budgets[s.benchmark]}, "
                f"target {bench.target:g} ({bench.note})",
                "",
                "| strategy | reached target | median trials to target | median best "
                "| suggestion s/run | wall s/run |",
                "|---|---|---|---|---|---|",
            ]
        lines.append(
            f"| {s.strategy} | {s.reached}/{s.runs} | {_trials(s, budgets[s.benchmark])} "
            f"| {s.median_best:.4g} | {s.median_suggest:.2f} | {s.median_wall:.2f} |"
        )
    return "\n".join(lines).lstrip("\n")


INTERVAL_LEVEL = 0.9


def ratio_interval(
    numerator: Mapping[int, float],
    denominator: Mapping[int, float],
    *,
    resamples: int = 2000,
) -> tuple[float, float] | None:
    """A bootstrap interval for ``median(numerator) / median(denominator)``, resampling seeds
    in pairs (both runs of a seed share its random start-up design). None with fewer than 5
    seeds in common: too few to say anything."""
    seeds = sorted(numerator.keys() & denominator.keys())
    if len(seeds) < 5:
        return None
    rng = random.Random(0)  # the same interval for the same runs
    ratios = []
    for _ in range(resamples):
        sample = rng.choices(seeds, k=len(seeds))
        top = statistics.median(numerator[seed] for seed in sample)
        ratios.append(top / statistics.median(denominator[seed] for seed in sample))
    ratios.sort()
    tail = (1 - INTERVAL_LEVEL) / 2
    return ratios[int(tail * resamples)], ratios[int((1 - tail) * resamples) - 1]


def _interval(bounds: tuple[float, float] | None, fmt: str) -> str:
    if bounds is None:
        return ""
    low, high = bounds
    return f" ({INTERVAL_LEVEL:.0%} interval {low:{fmt}} to {high:{fmt}})"


def goal_checks(summaries: Sequence[Summary]) -> list[str]:
    """The issue's goals for the default strategy, as lines that say met or missed.

    Trials to target compare the median over every seed, a seed that missed the target counting
    as budget + 1: a sampler that reaches the target in more seeds but needs four times the
    trials is not the one to match. Each ratio comes with a seed-bootstrap interval, because
    the median of a few seeds moves a lot (5 seeds to 30 moved some medians by 30%)."""
    by = {(s.benchmark, s.strategy, s.parallel): s for s in summaries}
    lines = []
    for (benchmark, strategy, parallel), s in sorted(by.items()):
        if strategy != "bayesian":
            continue
        singles = [
            by[(benchmark, name, parallel)]
            for name in SINGLE_SAMPLERS
            if (benchmark, name, parallel) in by
        ]
        if singles:
            best = min(singles, key=lambda x: (x.median_trials_all, -x.reached))
            ratio = s.median_trials_all / best.median_trials_all
            bounds = ratio_interval(s.trials_by_seed, best.trials_by_seed)
            lines.append(
                f"{benchmark} parallel {parallel}: bayesian {s.median_trials_all:g} trials "
                f"({s.reached}/{s.runs}) vs best single sampler {best.strategy} "
                f"{best.median_trials_all:g} ({best.reached}/{best.runs}): ratio {ratio:.2f}"
                f"{_interval(bounds, '.2f')} -> {'met' if ratio <= 1.10 else 'MISSED'} "
                "(goal <= 1.10)"
            )
        serial = by.get((benchmark, "bayesian", 1))
        if parallel > 1 and serial is not None:
            loss = s.median_trials_all / serial.median_trials_all - 1
            bounds = ratio_interval(s.trials_by_seed, serial.trials_by_seed)
            shifted = (bounds[0] - 1, bounds[1] - 1) if bounds else None
            lines.append(
                f"{benchmark}: bayesian parallel {parallel} needs {loss:+.0%}"
                f"{_interval(shifted, '+.0%')} trials vs serial "
                f"-> {'met' if loss <= 0.25 else 'MISSED'} (goal <= +25%)"
            )
    h6 = by.get(("hartmann6", "bayesian", 1))
    if h6 is not None:
        ok = h6.reached == h6.runs and h6.median_trials_all <= HARTMANN6_GOAL
        lines.append(
            f"hartmann6: bayesian reached the target in {h6.reached}/{h6.runs} seeds, median "
            f"{h6.median_trials_all:g} trials -> {'met' if ok else 'MISSED'} "
            f"(goal all, <= {HARTMANN6_GOAL})"
        )
    # The issue's own wording: at parallelTrials 4 lose no more than 25% "of that", the 31 trials.
    limit = 1.25 * HARTMANN6_GOAL
    for (benchmark, strategy, parallel), s in sorted(by.items()):
        if benchmark == "hartmann6" and strategy == "bayesian" and parallel > 1:
            lines.append(
                f"hartmann6: bayesian parallel {parallel} median {s.median_trials_all:g} trials "
                f"-> {'met' if s.median_trials_all <= limit else 'MISSED'} (goal <= {limit:g}: "
                f"25% over the {HARTMANN6_GOAL}-trial goal)"
            )
    return lines


HARTMANN6_GOAL = 31


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="smoke run: 2 seeds, small budgets")
    parser.add_argument(
        "--benchmarks", default=",".join(name for name, b in BENCHMARKS.items() if b.listed)
    )
    parser.add_argument(
        "--strategies", default=",".join(name for name, s in STRATEGIES.items() if s.listed)
    )
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument(
        "--first-seed", type=int, default=0, help="seeds FIRST .. FIRST + SEEDS - 1"
    )
    parser.add_argument("--parallel", default="1,4", help="parallelTrials values")
    parser.add_argument("--budget", type=int, default=None, help="override every budget")
    parser.add_argument(
        "--full-budget",
        action="store_true",
        help="run every budget to the end (best value at budget) instead of stopping at target",
    )
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1, help="worker processes")
    parser.add_argument("--json", default=None, help="write every run and the summary here")
    parser.add_argument(
        "--from-json",
        nargs="+",
        default=None,
        metavar="FILE",
        help="run nothing: print the tables and goal checks of the runs --json FILEs kept "
        "(a later file's run of the same benchmark, strategy, seed and parallelism wins)",
    )
    parser.add_argument(
        "--cap",
        type=int,
        default=None,
        help="with --from-json: cut every run to this many trials (runs of different budgets "
        "side by side) and add the median simple regret there",
    )
    args = parser.parse_args(argv)
    if args.from_json:
        return report_saved(args.from_json, args.cap)
    benchmarks = [b for b in args.benchmarks.split(",") if b]
    strategies = [s for s in args.strategies.split(",") if s]
    for name in benchmarks:
        if name not in BENCHMARKS:
            parser.error(f"unknown benchmark {name!r}; choose from {', '.join(BENCHMARKS)}")
    for name in strategies:
        if name not in STRATEGIES:
            parser.error(f"unknown strategy {name!r}; choose from {', '.join(STRATEGIES)}")
    seeds, budget = args.seeds, args.budget
    if args.quick:
        seeds, budget = min(seeds, 2), budget or 30
    parallels = [int(p) for p in args.parallel.split(",") if p]
    budgets = {name: budget or BENCHMARKS[name].budget for name in benchmarks}
    tasks = [
        (b, s, seed, p, budget, not args.full_budget)
        for b in benchmarks
        for p in parallels
        for s in strategies
        for seed in range(args.first_seed, args.first_seed + seeds)
    ]
    # The slowest (GP) first, so the pool does not end on one long run.
    tasks.sort(key=lambda t: (t[1] not in ("ax", "hebo"), not t[1].startswith(("gp", "bayesian"))))
    begun = time.perf_counter()
    results: list[RunResult] = []
    info = machine()

    def keep(result: RunResult) -> None:
        results.append(result)
        print(
            f"  {result.benchmark} {result.strategy} seed {result.seed} "
            f"parallel {result.parallel}: {result.trials_to_target or '-'} trials to "
            f"target, best {result.best:.4g}, {result.wall_seconds:.1f}s",
            file=sys.stderr,
            flush=True,
        )
        if args.json:  # after every run: a long run interrupted keeps what it measured
            save(args.json, info, budgets, results)

    if args.jobs > 1:
        with ProcessPoolExecutor(args.jobs, initializer=_init_worker) as pool:
            for result in pool.map(_run_task, tasks):
                keep(result)
    else:
        _init_worker()
        for task in tasks:
            keep(_run_task(task))
    summaries = summarize(results, budgets)
    print(
        f"{describe(info)}; {len(results)} runs in "
        f"{time.perf_counter() - begun:.0f}s with {args.jobs} workers"
    )
    print_report(summaries, budgets)
    return 0


def save(
    path: str, info: Mapping[str, str], budgets: Mapping[str, int], results: Sequence[RunResult]
) -> None:
    with open(path, "w") as out:
        json.dump(
            {
                "machine": info,
                "budgets": budgets,
                "runs": [asdict(r) for r in results],
                "summary": [asdict(s) for s in summarize(results, budgets)],
            },
            out,
            indent=1,
        )


def print_report(summaries: Sequence[Summary], budgets: Mapping[str, int]) -> None:
    print(markdown_tables(summaries, budgets))
    print()
    for line in goal_checks(summaries):
        print(f"- {line}")


def report_saved(paths: Sequence[str], cap: int | None = None) -> int:
    """The report of runs kept by ``--json``, summarized again (e.g. with newer goal checks, or
    one strategy re-run after a change and reported with the others' earlier runs); with
    ``cap``, every run cut to that many trials and a table of median simple regret there
    (``bench/compare.py``): how runs of different budgets, e.g. the peers', compare."""
    runs: dict[tuple[str, str, int, int], RunResult] = {}
    budgets: dict[str, int] = {}
    machines = []
    for path in paths:
        with open(path) as saved:
            data = json.load(saved)
        for run in data["runs"]:
            result = RunResult(**run)
            runs[(result.benchmark, result.strategy, result.seed, result.parallel)] = result
            # Files written before budgets were kept: the runs used each benchmark's own budget.
            budgets.setdefault(result.benchmark, BENCHMARKS[result.benchmark].budget)
        budgets.update(data.get("budgets") or {})
        machines.append(describe(data["machine"]))
    results = list(runs.values())
    print(f"{'; '.join(dict.fromkeys(machines))}; {len(results)} runs from {', '.join(paths)}")
    if cap is not None:
        from bench.compare import cap_runs, regret_table

        results = cap_runs(results, cap)
        budgets = dict.fromkeys(budgets, cap)
    print_report(summarize(results, budgets), budgets)
    if cap is not None:
        print()
        print(regret_table(results, cap))
    return 0


if __name__ == "__main__":
    sys.exit(main())
