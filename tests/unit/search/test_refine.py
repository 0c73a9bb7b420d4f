"""``refine``: ranges narrowed around the top trials on each parameter's own scale, with a
margin, never outside the parent range; unused categorical values dropped."""

from __future__ import annotations

import math
from typing import Any

import pytest
from kubetune.api.spec import Constraint, Parameter
from kubetune.search.refine import refine, top_trials
from kubetune.trials import TrialRecord, TrialState


def parameter(**fields: Any) -> Parameter:
    return Parameter.model_validate(fields)


def trials(name: str, *values: Any) -> list[TrialRecord]:
    return [
        TrialRecord(i, TrialState.COMPLETE, {name: v}, objective=float(i))
        for i, v in enumerate(values)
    ]


def test_top_trials_are_the_best_completed_ones_best_first() -> None:
    records = [
        TrialRecord(0, TrialState.COMPLETE, {}, objective=3.0),
        TrialRecord(1, TrialState.FAILED, {}),
        TrialRecord(2, TrialState.COMPLETE, {}, objective=1.0),
        TrialRecord(3, TrialState.PRUNED, {}, objective=0.1),
        TrialRecord(4, TrialState.COMPLETE, {}, objective=math.inf),
        TrialRecord(5, TrialState.COMPLETE, {}, objective=2.0),
    ]
    assert [t.number for t in top_trials(records, "minimize", 2)] == [2, 5]
    assert [t.number for t in top_trials(records, "maximize", 5)] == [0, 5, 2]


def test_top_trials_are_feasible_ones() -> None:
    records = [
        TrialRecord(0, TrialState.COMPLETE, {}, objective=0.1, metrics={"mem": 50.0}),
        TrialRecord(1, TrialState.COMPLETE, {}, objective=0.2, metrics={"mem": 30.0}),
    ]
    bound = [Constraint(metric="mem", max=40)]
    assert [t.number for t in top_trials(records, "minimize", 2, bound)] == [1]


def test_a_linear_range_narrows_around_the_top_trials_with_a_margin() -> None:
    (refined,) = refine([parameter(name="x", type="float", min=0, max=10)], trials("x", 4, 6))
    # span 2, margin max(0.5 * 2, 0.1 * 10) = 1 on each side
    assert (refined.parameter.min, refined.parameter.max) == (3.0, 7.0)
    assert refined.reason == (
        "0..10 -> 3..7: the top 2 trials span 4..6; widened by a margin on the linear scale, "
        "within the parent range"
    )


def test_a_log_range_narrows_in_decades() -> None:
    lr = parameter(name="lr", type="float", min=1e-6, max=1, scale="log")
    (refined,) = refine([lr], trials("lr", 1e-4, 1e-3))
    # one decade between them; the margin is 10% of the six decades, more than half a decade
    low, high = refined.parameter.min, refined.parameter.max
    assert low == pytest.approx(10**-4.6, rel=1e-2)
    assert high == pytest.approx(10**-2.4, rel=1e-2)
    assert low is not None
    assert high is not None
    assert low <= 10**-4.6
    assert high >= 10**-2.4
    assert "log scale" in refined.reason


def test_a_range_never_leaves_the_parent_range_nor_collapses() -> None:
    x = parameter(name="x", type="float", min=0, max=1)
    (at_edge,) = refine([x], trials("x", 0.99, 1.0))
    assert at_edge.parameter.max == 1.0
    assert at_edge.parameter.min == pytest.approx(0.89)
    assert at_edge.reason.endswith(
        "NOTE top trials at the parent's max 1: the best may lie beyond it"
    )
    (one,) = refine([x], trials("x", 0.5))
    assert (one.parameter.min, one.parameter.max) == (0.4, 0.6)  # 10% of the width each side


def test_reverse_log_narrows_on_its_own_scale() -> None:
    momentum = parameter(name="m", type="float", min=0.5, max=0.999, scale="reverseLog")
    (refined,) = refine([momentum], trials("m", 0.99, 0.995))
    low, high = refined.parameter.min, refined.parameter.max
    assert low is not None
    assert high is not None
    assert 0.5 < low < 0.99
    assert 0.995 < high <= 0.999


def test_int_and_stepped_bounds_round_outward() -> None:
    depth = parameter(name="d", type="int", min=1, max=20)
    (refined,) = refine([depth], trials("d", 7, 9))
    assert (refined.parameter.min, refined.parameter.max) == (5, 11)  # 7-2, 9+2 (10% of 19)
    rate = parameter(name="r", type="float", min=0.0, max=1.0, step=0.25)
    (stepped,) = refine([rate], trials("r", 0.5))
    assert (stepped.parameter.min, stepped.parameter.max) == (0.25, 0.75)


def test_unused_categorical_values_are_dropped_in_order() -> None:
    loss = parameter(name="loss", type="categorical", values=["a", "b", "c", 1])
    (refined,) = refine([loss], trials("loss", "c", "a", "c"))
    assert refined.parameter.values == ["a", "c"]
    assert refined.reason == "dropped b, 1: no top trial used it"
    (same,) = refine([loss], trials("loss", "a", "b", "c", 1))
    assert same.parameter is loss
    assert same.reason.startswith("unchanged")


def test_refining_needs_a_trial() -> None:
    with pytest.raises(ValueError, match="at least one completed trial"):
        refine([parameter(name="x", type="float", min=0, max=1)], [])
