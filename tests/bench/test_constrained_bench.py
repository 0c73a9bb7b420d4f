"""A smoke-sized run of ``bench/constrained.py`` (and ``bench/scale_auto.py``) so the
benchmarks do not rot."""

from __future__ import annotations

import math

import pytest

from bench import constrained, scale_auto


def test_the_problems_have_their_known_feasible_optimum() -> None:
    gramacy = {"x1": 0.1954, "x2": 0.4044}  # Gramacy et al. 2016: 0.5998, on the boundary
    assert constrained.gramacy(gramacy) == pytest.approx(0.5998, abs=1e-3)
    assert abs(constrained.gramacy_wave(gramacy)) < 2e-3
    assert constrained.gramacy_disk(gramacy) < 0
    feasible_minimum = {"x1": math.pi, "x2": 2.275}
    assert constrained.branin(feasible_minimum) < 0.3979 + 1e-3
    assert constrained.branin_disk(feasible_minimum) < 0
    assert constrained.branin_disk({"x1": -math.pi, "x2": 12.275}) > 0  # the others: outside
    assert constrained.branin_disk({"x1": 9.42478, "x2": 2.475}) > 0


def test_both_modes_run_and_count() -> None:
    problem = constrained.PROBLEMS["Branin in a disk (best 0.3979)"]
    for mode in constrained.MODES:
        reached, infeasible = constrained.run(problem, mode, seed=0, budget=12)
        assert reached is None or 1 <= reached <= 12
        assert 0 <= infeasible <= 12


def test_scale_auto_runs() -> None:
    result = scale_auto.trials_to_target(scale_auto.log_optimal, "auto", seed=0, budget=12)
    assert result is None or 1 <= result <= 12
