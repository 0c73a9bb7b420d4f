"""The Pareto front of a multi-objective study, and a bounded, well-spread part of it.

A trial is on the front when no other trial is at least as good on every objective and better on
one. A front can hold hundreds of trials; the TuningJob's status keeps at most
:data:`MAX_PARETO_FRONT` of them, chosen as NSGA-II chooses survivors: the trial whose neighbours
on the front are closest (the smallest crowding distance) is dropped, one at a time, until the
rest fit. The extremes of each objective are never dropped, so the kept trials span the front.

Pure functions over value vectors (any length), and over trial records for the callers.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from kubetune.api.spec import Direction, TuningJobSpec, is_feasible
from kubetune.api.status import MAX_PARETO_FRONT
from kubetune.trials import TrialRecord, TrialState

Point = Sequence[float]


def oriented(values: Sequence[float], directions: Sequence[Direction]) -> tuple[float, ...]:
    """``values`` as minimization: maximized objectives negated."""
    return tuple(-v if d == "maximize" else v for v, d in zip(values, directions, strict=True))


def dominates(a: Point, b: Point) -> bool:
    """Whether ``a`` is at least as good as ``b`` everywhere and better somewhere (minimizing)."""
    return all(x <= y for x, y in zip(a, b, strict=True)) and any(
        x < y for x, y in zip(a, b, strict=True)
    )


def non_dominated(points: Sequence[Point]) -> list[int]:
    """Indices of the points no other point dominates, in order; duplicates all stay."""
    order = sorted(range(len(points)), key=lambda i: tuple(points[i]))
    front: list[int] = []
    if points and len(points[0]) == 2:
        # Two objectives, sorted by the first: a point is on the front when its second value
        # beats every point before it (or it repeats the last point kept). O(n log n): a
        # front of thousands of trials is summarised at every reconcile step.
        lowest, last = math.inf, None
        for index in order:
            point = tuple(points[index])
            if point[1] < lowest or point == last:
                front.append(index)
                lowest, last = min(lowest, point[1]), point
        return sorted(front)
    for index in order:  # sorted: a point can only be dominated by one before it
        if not any(dominates(points[kept], points[index]) for kept in front):
            front.append(index)
    return sorted(front)


def crowding_distances(points: Sequence[Point]) -> list[float]:
    """NSGA-II's crowding distance of each point (infinite at each objective's extremes)."""
    count = len(points)
    distances = [0.0] * count
    if count <= 2:
        return [math.inf] * count
    for axis in range(len(points[0])):
        order = sorted(range(count), key=lambda i: points[i][axis])
        low, high = points[order[0]][axis], points[order[-1]][axis]
        distances[order[0]] = distances[order[-1]] = math.inf
        if high == low:
            continue
        for before, index, after in zip(order, order[1:], order[2:], strict=False):
            distances[index] += (points[after][axis] - points[before][axis]) / (high - low)
    return distances


def most_spread(points: Sequence[Point], limit: int) -> list[int]:
    """Indices (in order) of at most ``limit`` points: the least crowded one dropped, one at a
    time, until ``limit`` remain (recomputing the distances after each drop); ties drop the
    later point."""
    kept = list(range(len(points)))
    while len(kept) > limit:
        distances = crowding_distances([points[i] for i in kept])
        smallest = min(range(len(kept)), key=lambda k: (distances[k], -kept[k]))
        del kept[smallest]
    return kept


def pareto_trials(spec: TuningJobSpec, trials: Sequence[TrialRecord]) -> list[TrialRecord]:
    """The completed feasible trials (``spec.constraints``) on the front, by trial number."""
    candidates = [
        t
        for t in trials
        if t.state is TrialState.COMPLETE
        and t.values is not None
        and len(t.values) == len(spec.directions)
        and all(math.isfinite(v) for v in t.values)
        and is_feasible(spec.constraints, t.metrics)
    ]
    points = [oriented(t.values or (), spec.directions) for t in candidates]
    return [candidates[i] for i in non_dominated(points)]


def listed_front(
    spec: TuningJobSpec, front: Sequence[TrialRecord], limit: int = MAX_PARETO_FRONT
) -> list[TrialRecord]:
    """The trials of ``front`` to list: all when they fit, else ``limit`` well spread ones."""
    points = [oriented(t.values or (), spec.directions) for t in front]
    return [front[i] for i in most_spread(points, limit)]
