"""A smoke-sized run of ``bench/multi_objective.py`` so the benchmark does not rot."""

from __future__ import annotations

import math

import pytest

from bench import multi_objective


@pytest.mark.parametrize("name", sorted(multi_objective.PROBLEMS))
def test_points_of_the_true_front_reach_its_hypervolume(name: str) -> None:
    problem, front = multi_objective.PROBLEMS[name]
    # x[1:] = 0 (ZDT: g = 1) or 0.5 (DTLZ2: g = 0) puts a point on the true front.
    rest = 0.5 if name == "dtlz2" else 0.0
    points = [problem([x0, rest, rest]) for x0 in (i / 200 for i in range(201))]
    for f1, f2 in points:
        assert f2 == pytest.approx(front(f1), abs=1e-9)
    share = multi_objective.hypervolume(points) / multi_objective.true_hypervolume(front)
    assert 0.98 < share <= 1.0 + 1e-9


def test_each_sampler_runs() -> None:
    for name in ("random", "nsga2", "tpe", "parego-gp"):
        volume, seconds = multi_objective.run(multi_objective.zdt1, name, seed=0, dims=3, budget=12)
        assert volume >= 0.0
        assert math.isfinite(seconds)
