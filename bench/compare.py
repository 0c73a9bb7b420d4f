"""Side-by-side comparisons of saved runs (``bench/search.py --from-json ... --cap N``): runs of
different budgets cut to a common one, and the median simple regret at that budget.

Cutting to ``N`` trials: a run that reached the target after trial ``N`` counts as a miss, and
its best at ``N`` is the recommended trial's noise-free value then (``RunResult.trace``). A run
that stopped at the target before ``N`` keeps its value at the stop, an upper bound of its
regret at ``N``; that only flatters the runs that did not stop.

Simple regret is that value minus the benchmark's optimum, or, where the optimum is unknown
(the scikit-learn models), minus the best value any run in the files found.
"""

from __future__ import annotations

import dataclasses
import statistics
from collections.abc import Sequence

from bench.problems import BENCHMARKS
from bench.search import RunResult, _interval, ratio_interval


def cap_runs(results: Sequence[RunResult], cap: int) -> list[RunResult]:
    """The runs as if each had a budget of ``cap`` trials."""
    capped = []
    for r in results:
        reached = r.trials_to_target if r.trials_to_target and r.trials_to_target <= cap else None
        trace = r.trace[:cap]
        best = trace[-1] if trace else r.best
        capped.append(
            dataclasses.replace(
                r, trials=min(r.trials, cap), trials_to_target=reached, best=best, trace=trace
            )
        )
    return capped


def regret_table(results: Sequence[RunResult], cap: int, reference: str = "bayesian") -> str:
    """Median simple regret at ``cap`` trials per benchmark, parallelism and strategy, with
    its ratio to ``reference``'s and a paired-bootstrap 90% interval over seeds."""
    floors: dict[str, float] = {}
    for r in results:
        known = BENCHMARKS[r.benchmark].optimum
        floors[r.benchmark] = (
            known if known is not None else min(floors.get(r.benchmark, r.best), r.best)
        )
    groups: dict[tuple[str, int], dict[str, dict[int, float]]] = {}
    for r in results:
        by_strategy = groups.setdefault((r.benchmark, r.parallel), {})
        # A floor for the ratio: a run at the optimum would make every ratio infinite.
        by_strategy.setdefault(r.strategy, {})[r.seed] = max(r.best - floors[r.benchmark], 1e-9)
    lines = [
        f"| benchmark | parallel | strategy | seeds | median regret at {cap} | vs {reference} |",
        "|---|---|---|---|---|---|",
    ]
    for (benchmark, parallel), by_strategy in sorted(groups.items()):
        base = by_strategy.get(reference)
        for strategy, regrets in sorted(
            by_strategy.items(), key=lambda kv: statistics.median(kv[1].values())
        ):
            median = statistics.median(regrets.values())
            versus = ""
            if base is not None and strategy != reference:
                ratio = median / statistics.median(base.values())
                versus = f"{ratio:.2f}x{_interval(ratio_interval(regrets, base), '.2f')}"
            row = f"| {benchmark} | {parallel} | {strategy} | {len(regrets)} | {median:.4g} |"
            lines.append(f"{row} {versus} |")
    return "\n".join(lines)
