"""The Pareto front and its bounded, well spread part (``kubetune.search.pareto``)."""

from __future__ import annotations

import math
import random
from typing import Any

from kubetune.api import parse_tuningjob
from kubetune.api.spec import TuningJobSpec
from kubetune.search.pareto import (
    crowding_distances,
    dominates,
    listed_front,
    most_spread,
    non_dominated,
    oriented,
    pareto_trials,
)
from kubetune.trials import TrialRecord, TrialState

from tests.unit.manifests import REMOVE, manifest, tweak


def multi_spec(
    directions: tuple[str, str] = ("minimize", "maximize"), extra: dict[str, Any] | None = None
) -> TuningJobSpec:
    objectives = [
        {"metric": "loss", "direction": directions[0]},
        {"metric": "acc", "direction": directions[1]},
    ]
    document = tweak(tweak(manifest(), "spec.objective", REMOVE), "spec.objectives", objectives)
    for path, value in (extra or {}).items():
        document = tweak(document, path, value)
    return parse_tuningjob(document).spec


def done(number: int, loss: float, acc: float, **metrics: float) -> TrialRecord:
    return TrialRecord(
        number,
        TrialState.COMPLETE,
        {"x": 0.1 * number},
        metrics={"loss": loss, "acc": acc, **metrics},
        values=(loss, acc),
    )


def test_domination_is_strict_somewhere() -> None:
    assert dominates((1, 1), (2, 1))
    assert not dominates((1, 1), (1, 1))
    assert not dominates((1, 2), (2, 1))


def test_non_dominated_keeps_ties_and_order() -> None:
    points = [(3, 3), (1, 4), (2, 2), (4, 1), (2, 2), (5, 5)]
    assert non_dominated(points) == [1, 2, 3, 4]


def test_orientation_negates_maximized_objectives() -> None:
    assert oriented((0.5, 0.9), ("minimize", "maximize")) == (0.5, -0.9)


def test_crowding_distance_is_infinite_at_the_extremes() -> None:
    points = [(0.0, 1.0), (0.5, 0.5), (0.6, 0.4), (1.0, 0.0)]
    distances = crowding_distances(points)
    assert distances[0] == distances[3] == math.inf
    assert distances[1] == 1.2  # (0.6 - 0.0) / 1 + (1.0 - 0.4) / 1
    assert distances[2] == 1.0


def test_most_spread_drops_the_most_crowded_and_keeps_the_extremes() -> None:
    # A front on the line f1 + f2 = 1 with a cluster near 0.5: the cluster is thinned first.
    xs = [0.0, 0.25, 0.5, 0.51, 0.52, 0.53, 0.75, 1.0]
    points = [(x, 1 - x) for x in xs]
    kept = most_spread(points, 5)
    assert kept == [0, 1, 2, 6, 7]
    assert most_spread(points, 20) == list(range(len(points)))


def test_pareto_trials_orient_by_direction_and_skip_infeasible_and_unfinished() -> None:
    spec = multi_spec(extra={"spec.constraints": [{"metric": "mem", "max": 10}]})
    trials = [
        done(0, 0.5, 0.80, mem=5),
        done(1, 0.3, 0.70, mem=5),
        done(2, 0.4, 0.60, mem=5),  # dominated by 1 (higher loss, lower acc)
        done(3, 0.1, 0.99, mem=50),  # would dominate everything, but infeasible
        done(4, 0.6, 0.90, mem=5),
        TrialRecord(5, TrialState.RUNNING, {"x": 0.5}),
        TrialRecord(6, TrialState.FAILED, {"x": 0.6}, reason="Error"),
    ]
    assert [t.number for t in pareto_trials(spec, trials)] == [0, 1, 4]


def test_listed_front_is_bounded() -> None:
    spec = multi_spec(("minimize", "minimize"))
    front = [done(i, i / 29, 1 - i / 29) for i in range(30)]
    listed = listed_front(spec, front)
    assert len(listed) == 20
    assert {listed[0].number, listed[-1].number} == {0, 29}
    assert listed_front(spec, front[:3]) == front[:3]


def test_the_two_objective_sweep_agrees_with_pairwise_domination() -> None:
    rng = random.Random(4)
    for _ in range(200):
        points = [(rng.randint(0, 5), rng.randint(0, 5)) for _ in range(rng.randint(1, 12))]
        pairwise = [
            i
            for i, p in enumerate(points)
            if not any(dominates(q, p) for j, q in enumerate(points) if j != i)
        ]
        assert non_dominated(points) == pairwise, points
    three = [(1, 2, 3), (2, 1, 3), (2, 2, 3), (1, 2, 3)]
    assert non_dominated(three) == [0, 1, 3]
