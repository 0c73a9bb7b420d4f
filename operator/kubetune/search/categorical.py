"""The acquisition searched jointly over categorical and continuous parameters.

A categorical parameter has no gradient, so ``gp_sampler`` polishes the continuous coordinates
of a few good candidates with L-BFGS-B, categories held. Which categories those candidates get
decides what the search can find: the best continuous values depend on the categories (a
kernel's ``gamma`` means something else for each kernel), so trying another category at the
winner's continuous values, one parameter at a time, rejects combinations that would win once
their own continuous values were polished. Here (with ``gp_sampler.JOINT_CATEGORIES``, an
experiment that is off by default: it measured no better on the spaces the default gives the
GP, ``bench/results.md``):

1. the random candidates cover every combination of categories equally often (when there are
   few enough combinations), instead of each by chance;
2. the candidates polished are the best few overall *and* the best of each other combination,
   so several combinations get their continuous values optimized before they are compared;
3. the winner then tries its categorical neighbours (one parameter changed), each polished
   before it is compared, until no neighbour does better.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable

import numpy as np
from numpy.typing import NDArray

Array = NDArray[np.float64]
Score = Callable[[Array], Array]
Polish = Callable[[Array, float], tuple[Array, float]]

MAX_COMBINATIONS = 4096
"""Up to this many combinations of categories, the random candidates cover each equally often;
past it (several large categoricals), each candidate draws its categories at random."""

NEIGHBOUR_POLISHES = 3
"""Categorical neighbours of the winner polished per round, the best-scoring ones at its
continuous values (polishing every neighbour of a parameter with many values costs too much)."""

MAX_ROUNDS = 3
"""Rounds of neighbour moves: each round costs ``NEIGHBOUR_POLISHES`` polishes."""


def fill_categories(candidates: Array, sizes: NDArray[np.int_], rng: np.random.Generator) -> Array:
    """``candidates`` with their categorical coordinates (``sizes`` > 0) set to category
    indices: every combination the same number of times (give or take one), in random order,
    when there are at most :data:`MAX_COMBINATIONS`; else drawn at random."""
    columns = np.flatnonzero(sizes)
    if not len(columns):
        return candidates
    filled = candidates.copy()
    count = len(filled)
    combinations = math.prod(int(sizes[c]) for c in columns)
    if combinations <= MAX_COMBINATIONS:
        grid = np.array(list(itertools.product(*(range(int(sizes[c])) for c in columns))))
        rows = np.resize(rng.permutation(len(grid)), count)
        filled[:, columns] = grid[rows]
    else:
        filled[:, columns] = rng.integers(0, sizes[columns], size=(count, len(columns)))
    return filled


def diverse_starts(
    candidates: Array, scores: Array, sizes: NDArray[np.int_], count: int
) -> NDArray[np.int_]:
    """Indices of the candidates to polish: the best ``count // 2`` overall, then the best of
    each combination of categories not among them yet, best first, up to ``count``."""
    order = np.argsort(-scores)
    columns = np.flatnonzero(sizes)
    if not len(columns):
        return order[:count]
    chosen = list(order[: count // 2])
    seen = {tuple(candidates[i, columns]) for i in chosen}
    for i in order[count // 2 :]:
        if len(chosen) == count:
            break
        key = tuple(candidates[i, columns])
        if key not in seen:
            seen.add(key)
            chosen.append(i)
    for i in order:  # fewer combinations than ``count``: fill with the next best
        if len(chosen) == count:
            break
        if i not in chosen:
            chosen.append(i)
    return np.array(chosen, dtype=np.int_)


def neighbours(point: Array, sizes: NDArray[np.int_]) -> Array:
    """Every point that differs from ``point`` in exactly one categorical coordinate."""
    rows = []
    for column in np.flatnonzero(sizes):
        for choice in range(int(sizes[column])):
            if choice != point[column]:
                row = point.copy()
                row[column] = choice
                rows.append(row)
    return np.array(rows).reshape(len(rows), len(point))


def neighbour_search(
    point: Array, value: float, score: Score, polish: Polish, sizes: NDArray[np.int_]
) -> tuple[Array, float]:
    """From ``point``, move to the best polished categorical neighbour while one does better
    (at most :data:`MAX_ROUNDS` moves)."""
    for _ in range(MAX_ROUNDS):
        around = neighbours(point, sizes)
        if not len(around):
            break
        scores = score(around)
        best_first = np.argsort(-scores)[:NEIGHBOUR_POLISHES]
        tried = [polish(around[i], float(scores[i])) for i in best_first]
        best_point, best_value = max(tried, key=lambda pair: pair[1])
        if best_value <= value:
            break
        point, value = best_point, best_value
    return point, value
