"""A smoke-sized run of ``bench/early_stopping.py`` so the benchmark does not rot (the real one
is not run in CI: see bench/README.md)."""

from __future__ import annotations

import pytest

from bench import early_stopping


def test_curves_end_at_their_asymptote_and_cross() -> None:
    slow = {"learning_rate": 1e-2, "depth": 5, "dropout": 0.2}  # asymptote 0.1
    fast = {"learning_rate": 0.5, "depth": 5, "dropout": 0.2}
    slow_curve = early_stopping.CURVES.curve(slow, 0)
    fast_curve = early_stopping.CURVES.curve(fast, 0)
    assert slow_curve[-1] == pytest.approx(0.1 + 2.4 * 2.718281828 ** (-0.4 * 26), abs=0.02)
    assert fast_curve[2] < slow_curve[2]  # the fast learner leads early...
    assert fast_curve[-1] > slow_curve[-1]  # ...and ends worse


@pytest.mark.parametrize("algorithm", ["median", "hyperband"])
def test_early_stopping_consumes_fewer_steps(algorithm: str) -> None:
    none = early_stopping.run_once("curves", "none", seed=1, trials=12, parallel=2)
    pruning = early_stopping.run_once("curves", algorithm, seed=1, trials=12, parallel=2)
    assert none.trials == pruning.trials == 12
    assert none.pruned == 0
    assert none.steps == 12 * early_stopping.CURVES.steps
    assert pruning.pruned > 0
    assert pruning.steps < none.steps


def test_table_compares_with_none() -> None:
    results = [
        early_stopping.RunResult("curves", "none", 0, 10, 0, 270, 0.2, 0.1),
        early_stopping.RunResult("curves", "median", 0, 10, 4, 135, 0.25, 0.1),
    ]
    text = early_stopping.table(results, ["none", "median"])
    assert "| median | 10.0 | 4.0 | 135 | 50% | 0.2500 | +0.0500 |" in text
