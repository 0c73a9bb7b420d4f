"""The joint categorical acquisition search (``kubetune.search.categorical``) and the GP on
spaces with categories."""

from __future__ import annotations

from collections import Counter
from typing import Any

import numpy as np
import optuna
import pytest
from kubetune.search import categorical, gp_sampler
from kubetune.search.gp_sampler import GaussianProcessSampler
from optuna.distributions import BaseDistribution, CategoricalDistribution

SIZES = np.array([0, 3, 0, 2])  # a float, a 3-way categorical, a float, a 2-way one


def test_candidates_cover_every_combination_equally_often() -> None:
    filled = categorical.fill_categories(np.zeros((60, 4)), SIZES, np.random.default_rng(0))
    counts = Counter((int(a), int(b)) for a, b in filled[:, [1, 3]])
    assert set(counts) == {(a, b) for a in range(3) for b in range(2)}
    assert set(counts.values()) == {10}
    assert (filled[:, [0, 2]] == 0).all()  # the continuous coordinates are left alone


def test_too_many_combinations_are_drawn_at_random(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(categorical, "MAX_COMBINATIONS", 4)
    filled = categorical.fill_categories(np.zeros((200, 4)), SIZES, np.random.default_rng(0))
    assert set(filled[:, 1]) == {0, 1, 2}
    assert set(filled[:, 3]) == {0, 1}


def test_starts_include_the_best_of_other_combinations() -> None:
    # Candidates of combination (0, 0) score best; two others score worse but still get a start.
    candidates = np.array(
        [[0.1, 0, 0.5, 0], [0.2, 0, 0.5, 0], [0.3, 0, 0.5, 0], [0.4, 1, 0.5, 0], [0.5, 2, 0.5, 1]]
    )
    scores = np.array([5.0, 4.0, 3.0, 1.0, 0.0])
    assert list(categorical.diverse_starts(candidates, scores, SIZES, 4)) == [0, 1, 3, 4]
    # Without categoricals: simply the best.
    assert list(categorical.diverse_starts(candidates, scores, np.zeros(4, int), 2)) == [0, 1]


def test_neighbours_change_exactly_one_category() -> None:
    around = categorical.neighbours(np.array([0.5, 1.0, 0.5, 0.0]), SIZES)
    assert len(around) == 2 + 1
    assert all(int((row != [0.5, 1.0, 0.5, 0.0]).sum()) == 1 for row in around)


def test_the_neighbour_search_polishes_a_combination_before_judging_it() -> None:
    # Category 1 only pays with x near 0.9; at the start's x = 0.1 it looks worse than
    # category 0. Polishing the continuous coordinate first is what finds it.
    def score(points: np.ndarray) -> np.ndarray:
        x, kind = points[:, 0], points[:, 1]
        return np.where(kind == 1, 2.0 - 10 * (x - 0.9) ** 2, 1.0 - (x - 0.1) ** 2)

    def polish(start: np.ndarray, value: float) -> tuple[np.ndarray, float]:
        if start[1] == 1:
            start = np.array([0.9, 1.0])
        return start, float(score(start[None, :])[0])

    point, value = categorical.neighbour_search(
        np.array([0.1, 0.0]), 1.0, score, polish, np.array([0, 2])
    )
    assert list(point) == [0.9, 1.0]
    assert value == 2.0


def run_categorical_only(seed: int, trials: int = 14) -> list[Any]:
    # Three categoricals, 27 combinations; only (b, y, q) is good, each right choice helps.
    space: dict[str, BaseDistribution] = {
        "first": CategoricalDistribution(["a", "b", "c"]),
        "second": CategoricalDistribution(["x", "y", "z"]),
        "third": CategoricalDistribution(["p", "q", "r"]),
    }
    study = optuna.create_study(sampler=GaussianProcessSampler(seed=seed))
    asked = []
    for _ in range(trials):
        trial = study.ask(space)
        p = trial.params
        study.tell(trial, (p["first"] != "b") + (p["second"] != "y") + (p["third"] != "q"))
        asked.append(tuple(p.values()))
    return asked


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_a_categorical_only_space_finds_the_best_combination(seed: int) -> None:
    # 8 trials of 27 combinations: at random, the best is among them a quarter of the time.
    assert ("b", "y", "q") in run_categorical_only(seed, trials=8)


def test_mixed_suggestions_are_reproducible_with_a_seed() -> None:
    assert run_categorical_only(seed=5, trials=10) == run_categorical_only(seed=5, trials=10)


@pytest.mark.parametrize("joint", [False, True])
def test_both_category_searches_find_the_best_combination(
    joint: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(gp_sampler, "JOINT_CATEGORIES", joint)
    assert ("b", "y", "q") in run_categorical_only(seed=1, trials=8)
    assert run_categorical_only(seed=5, trials=10) == run_categorical_only(seed=5, trials=10)
