"""The trials table fits 80 and 120 columns, never cuts the objective's name, leaves out empty
columns and marks the best trial without colour."""

from __future__ import annotations

import pytest
from kubetune.api import parse_tuningjob
from kubetune.api.spec import TuningJob
from kubetune.cli.display import best_text, trials_table
from kubetune.trials import TrialRecord, TrialState
from rich.console import Console

OBJECTIVE = "validation-mean-absolute-percentage-error"


def job(parameters: int) -> TuningJob:
    return parse_tuningjob(
        {
            "apiVersion": "kubetune.io/v1alpha1",
            "kind": "TuningJob",
            "metadata": {"name": "wide"},
            "spec": {
                "objective": {
                    "metric": OBJECTIVE,
                    "direction": "minimize",
                    "additionalMetrics": ["train-mape", "never-reported"],
                },
                "parameters": [
                    {"name": f"parameter_number_{i}", "type": "float", "min": 0.0, "max": 1.0}
                    for i in range(parameters)
                ],
                "limits": {"maxTrials": 10},
                "trialTemplate": {
                    "spec": {"template": {"spec": {"containers": [{"name": "t", "image": "x"}]}}}
                },
            },
        }
    )


def trials(count: int, parameters: int) -> list[TrialRecord]:
    return [
        TrialRecord(
            number,
            TrialState.COMPLETE,
            {f"parameter_number_{i}": 0.123456789 * (number + i) for i in range(parameters)},
            objective=10.0 - abs(number - 3),
            metrics={"train-mape": 1.5},
        )
        for number in range(count)
    ]


def render(parameters: int, width: int) -> str:
    console = Console(width=width, color_system=None, record=True)
    console.print(trials_table(job(parameters), trials(5, parameters), width))
    return console.export_text()


@pytest.mark.parametrize("width", [80, 120])
@pytest.mark.parametrize("parameters", [2, 6])
def test_fits_without_cutting_the_objective(width: int, parameters: int) -> None:
    text = render(parameters, width)
    assert max(len(line) for line in text.splitlines()) <= width
    assert OBJECTIVE in text
    assert "…" not in text
    assert "never-reported" not in text  # empty everywhere: left out
    assert "reason" not in text


def test_best_row_is_marked_without_colour() -> None:
    text = render(2, 120)
    best_rows = [line for line in text.splitlines() if "*0" in line or "*6" in line]
    assert len(best_rows) == 1
    assert "* best trial" in text


def test_a_narrow_table_shares_one_parameters_column() -> None:
    narrow = trials_table(job(6), trials(5, 6), 80)
    assert [c.header for c in narrow.columns] == [
        "#",
        "state",
        OBJECTIVE,
        "train-mape",
        "parameters",
    ]
    flat = "".join(render(6, 80).split()).replace("│", "")
    assert "parameter_number_5=" in flat
    roomy = trials_table(job(2), trials(5, 2), 120)
    assert [c.header for c in roomy.columns][-2:] == ["parameter_number_0", "parameter_number_1"]


def test_infeasible_trials_are_marked_and_never_the_best() -> None:
    document = job(1).model_dump(by_alias=True, exclude_none=True, mode="json")
    document["spec"]["constraints"] = [{"metric": "gpu-memory-gb", "max": 40}]
    constrained = parse_tuningjob(document)
    records = [
        TrialRecord(n, TrialState.COMPLETE, {"parameter_number_0": 0.5}, objective=v, metrics=m)
        for n, v, m in [
            (0, 1.0, {"gpu-memory-gb": 80.0}),  # the lowest error, infeasible
            (1, 2.0, {"gpu-memory-gb": 30.0}),
        ]
    ]
    console = Console(width=160, color_system=None, record=True)
    console.print(trials_table(constrained, records, 160))
    text = console.export_text()
    rows = {line.split()[1]: line for line in text.splitlines() if line.split()[1:2]}
    assert "Infeasible" in rows["0"]
    assert "*1" in text
    assert "*0" not in text
    assert "gpu-memory-gb" in text  # the constrained metric has its column
    assert "Infeasible: succeeded outside spec.constraints" in text


def test_no_best_trial_says_whether_none_succeeded_or_none_was_feasible() -> None:
    document = job(1).model_dump(by_alias=True, exclude_none=True, mode="json")
    document["spec"]["constraints"] = [{"metric": "gpu-memory-gb", "max": 40}]
    constrained = parse_tuningjob(document)
    over_budget = TrialRecord(
        0,
        TrialState.COMPLETE,
        {"parameter_number_0": 0.5},
        objective=1.0,
        metrics={"gpu-memory-gb": 80.0},
    )
    crashed = TrialRecord(1, TrialState.FAILED, {"parameter_number_0": 0.5})
    infeasible_only = str(best_text(constrained, [over_budget, crashed]))
    assert "No feasible trial" in infeasible_only
    assert "outside spec.constraints" in infeasible_only
    assert str(best_text(constrained, [crashed])) == "No trial succeeded."
