"""A smoke-sized run of ``bench/search.py`` so the benchmark does not rot (the real one is not
run in CI: see bench/README.md)."""

from __future__ import annotations

import pytest

from bench import search


def test_hartmann6_and_branin_know_their_optima() -> None:
    optimum = {"x0": 0.20169, "x1": 0.150011, "x2": 0.476874}
    optimum |= {"x3": 0.275332, "x4": 0.311652, "x5": 0.6573}
    assert search.hartmann6(optimum) == pytest.approx(-3.32237, abs=1e-4)
    assert search.branin({"x1": 3.14159265, "x2": 2.275}) == pytest.approx(0.397887, abs=1e-5)


@pytest.mark.parametrize("parallel", [1, 3])
def test_a_run_goes_through_the_reconcile_core(parallel: int) -> None:
    result = search.run_once("branin", "random", seed=3, parallel=parallel, budget=20)
    assert result.trials == 20  # random never gets within 0.012 of Branin's optimum in 20
    assert result.trials_to_target is None
    assert result.best > 0.397


def test_the_default_strategy_models_after_its_startup_trials() -> None:
    result = search.run_once(
        "branin", "bayesian", seed=0, parallel=1, budget=14, stop_at_target=False
    )
    assert result.trials == 14
    assert result.models["random"] == 10
    assert result.models.get("gp", 0) + result.models.get("tpe", 0) == 4


def test_quick_cli_prints_tables_and_goals(capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["--quick", "--benchmarks", "branin", "--strategies", "random,tpe", "--seeds", "1"]
    assert search.main([*argv, "--jobs", "1", "--budget", "12", "--parallel", "1,2"]) == 0
    out = capsys.readouterr().out
    assert "**branin**, parallelTrials 1, budget 12" in out
    assert "| tpe | 0/1 | > 12 |" in out
