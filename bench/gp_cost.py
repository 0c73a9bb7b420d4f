"""What a Gaussian-process suggestion costs as a study grows: the curve up to 500 trials.

    python -m bench.gp_cost                        # 6 floats, 10 ... 500 finished trials
    python -m bench.gp_cost --sizes 50,200 --running 3 --fantasies 8
    python -m bench.gp_cost --dimensions 20        # Hartmann6 among 20 parameters
    python -m bench.gp_cost --sizes 200 --running 7 --trust-region none   # the believer alone

For each size it builds a study of that many finished trials (Hartmann6's 6-D space, values of
the function at random points) and times ``GaussianProcessSampler`` asks (the model fit,
conditioning on ``--running`` running trials, the acquisition search) directly, without the
tuning loop. Both the wall time and the process's CPU time are reported: on a machine shared
with other work the CPU time is the repeatable figure (one BLAS thread: the sampler's own
limit).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Sequence

from bench.common import describe, machine
from bench.problems import hartmann6


def curve(
    sizes: Sequence[int],
    running: int,
    fantasies: int,
    asks: int,
    dimensions: int = 6,
    trust_region: float | None = 0.5,
) -> list[str]:
    import numpy as np
    import optuna
    from kubetune.search import batch, gp_sampler
    from kubetune.search.gp_sampler import GaussianProcessSampler

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    gp_sampler.PENDING_FANTASIES = fantasies
    batch.TRUST_REGION_WIDTH = trust_region
    # Hartmann6 on the first six parameters, the others inert (dimensions > 6).
    space = {f"x{i}": optuna.distributions.FloatDistribution(0.0, 1.0) for i in range(dimensions)}
    rng = np.random.default_rng(0)
    lines = [
        "| finished trials | running | suggestion wall ms (median) | CPU ms (median) |",
        "|---|---|---|---|",
    ]
    for size in sizes:
        # No restarts: on random points they would fire and the GP would model only the
        # trials of its latest run, not the `size` being timed.
        study = optuna.create_study(sampler=GaussianProcessSampler(seed=0, restarts=False))
        for _ in range(size):
            params = {name: float(rng.random()) for name in space}
            study.add_trial(
                optuna.trial.create_trial(
                    params=params, distributions=space, value=hartmann6(params)
                )
            )
        for _ in range(running):
            study.ask(space)  # suggested and left running
        walls, cpus = [], []
        for _ in range(asks):
            wall, cpu = time.perf_counter(), time.process_time()
            trial = study.ask(space)
            walls.append(time.perf_counter() - wall)
            cpus.append(time.process_time() - cpu)
            study.tell(trial, hartmann6(trial.params))
        lines.append(
            f"| {size} | {running} | {statistics.median(walls) * 1000:.0f} "
            f"| {statistics.median(cpus) * 1000:.0f} |"
        )
        print(f"  {lines[-1]}", file=sys.stderr, flush=True)
    return lines


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="10,50,100,200,300,500")
    parser.add_argument("--running", type=int, default=0, help="running trials to condition on")
    parser.add_argument("--fantasies", type=int, default=0, help="0: the kriging believer")
    parser.add_argument("--asks", type=int, default=5, help="timed suggestions per size")
    parser.add_argument(
        "--trust-region",
        default="0.5",
        help="the box's half width in lengthscales while trials run (search.batch); none: no box",
    )
    parser.add_argument("--dimensions", type=int, default=6, help="parameters (at least 6)")
    args = parser.parse_args(argv)
    sizes = [int(s) for s in args.sizes.split(",") if s]
    print(describe(machine()))
    width = None if args.trust_region == "none" else float(args.trust_region)
    lines = curve(sizes, args.running, args.fantasies, args.asks, args.dimensions, width)
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
