"""The report's figures: pruned curves marked, a cap on curves, notes instead of empty plots."""

from __future__ import annotations

import optuna
from kubetune.report.plots import MAX_CURVES, intermediate_values, study_plots


def study_with_curves(trials: int, prune_every: int = 3) -> optuna.Study:
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study()
    for number in range(trials):
        trial = study.ask({"x": optuna.distributions.FloatDistribution(0, 1)})
        for step in range(3):
            trial.report(1.0 / (step + 1) + number, step)
        if number % prune_every == prune_every - 1:
            study.tell(trial, state=optuna.trial.TrialState.PRUNED)
        else:
            study.tell(trial, float(number))
    return study


def test_pruned_curves_are_dashed_red_and_end_in_a_cross() -> None:
    figure = intermediate_values(study_with_curves(6), "loss")
    pruned = [t for t in figure.data if t.name.endswith("(pruned)")]
    assert [t.name for t in pruned] == ["trial 2 (pruned)", "trial 5 (pruned)"]
    for trace in pruned:
        assert trace.line.dash == "dash"
        assert list(trace.marker.symbol) == ["circle", "circle", "x"]
    finished = [t for t in figure.data if not t.name.endswith("(pruned)")]
    assert all(t.line.dash == "solid" for t in finished)


def test_only_the_latest_curves_are_drawn() -> None:
    figure = intermediate_values(study_with_curves(MAX_CURVES + 10), "loss")
    assert len(figure.data) == MAX_CURVES
    assert figure.data[0].name.startswith("trial 10")


def test_an_empty_study_gets_notes_not_empty_plots() -> None:
    plots = study_plots(optuna.create_study(), ["loss"])
    assert plots
    assert all(p.figure is None and p.note for p in plots)
