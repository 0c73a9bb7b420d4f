"""``SearchSpace``: every parameter type and scale as an Optuna distribution, and back.

Sampling tests draw from a seeded ``RandomSampler`` through the real ask/decode path, so they
check what a trial would actually receive.
"""

from __future__ import annotations

import math
import statistics
from typing import Any

import optuna
import pytest
from hypothesis import given
from hypothesis import strategies as st
from kubetune.api import parse_tuningjob
from kubetune.search.space import SearchSpace
from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution

from tests.unit.manifests import manifest

SAMPLES = 1500

# Optuna narrows [0, 10] step 3 to [0, 9] and says so; that is the behaviour under test.
pytestmark = pytest.mark.filterwarnings("ignore:The distribution is specified by:UserWarning")


def space_of(*parameters: dict[str, Any]) -> SearchSpace:
    job = parse_tuningjob(manifest(parameters=list(parameters)))
    return SearchSpace.from_parameters(job.spec.parameters)


def sample(space: SearchSpace, count: int = SAMPLES, seed: int = 0) -> list[dict[str, Any]]:
    """What ``count`` trials would receive, drawn uniformly in the study's terms."""
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=seed))
    drawn = []
    for _ in range(count):
        trial = study.ask(space.distributions)
        drawn.append(space.decode(trial.params))
        study.tell(trial, 0.0)
    return drawn


def on_step(value: float, low: float, step: float) -> bool:
    k = (value - low) / step
    return abs(k - round(k)) < 1e-9


# --- distributions --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("parameter", "study_name", "distribution"),
    [
        (
            {"name": "a", "type": "float", "min": -2.0, "max": 3.0},
            "a",
            FloatDistribution(-2.0, 3.0),
        ),
        (
            {"name": "a", "type": "float", "min": 1e-5, "max": 0.1, "scale": "log"},
            "a",
            FloatDistribution(1e-5, 0.1, log=True),
        ),
        (
            {"name": "a", "type": "float", "min": 0.0, "max": 1.0, "step": 0.25},
            "a",
            FloatDistribution(0.0, 1.0, step=0.25),
        ),
        ({"name": "a", "type": "int", "min": 2, "max": 8}, "a", IntDistribution(2, 8)),
        (
            {"name": "a", "type": "int", "min": 0, "max": 100, "step": 25},
            "a",
            IntDistribution(0, 100, step=25),
        ),
        (
            {"name": "a", "type": "int", "min": 1, "max": 1024, "scale": "log"},
            "a",
            IntDistribution(1, 1024, log=True),
        ),
        (
            {"name": "a", "type": "categorical", "values": ["relu", 3, 0.5, True]},
            "a",
            CategoricalDistribution(["relu", 3, 0.5, True]),
        ),
        (
            {"name": "momentum", "type": "float", "min": 0.9, "max": 0.999, "scale": "reverseLog"},
            "1-momentum",
            FloatDistribution(1 - 0.999, 1 - 0.9, log=True),
        ),
    ],
    ids=["linear", "log", "stepped", "int", "int-step", "log-int", "categorical", "reverseLog"],
)
def test_distribution_of_each_type_and_scale(
    parameter: dict[str, Any], study_name: str, distribution: Any
) -> None:
    space = space_of(parameter)
    assert space.names == [parameter["name"]]
    assert space.distributions == {study_name: distribution}


def test_linear_float_samples_cover_the_range_uniformly() -> None:
    values = [
        p["a"] for p in sample(space_of({"name": "a", "type": "float", "min": -2.0, "max": 3.0}))
    ]
    assert all(isinstance(v, float) and -2.0 <= v <= 3.0 for v in values)
    assert statistics.median(values) == pytest.approx(0.5, abs=0.25)


def test_log_float_samples_are_uniform_in_the_exponent() -> None:
    values = [
        p["a"]
        for p in sample(
            space_of({"name": "a", "type": "float", "min": 1e-4, "max": 1.0, "scale": "log"})
        )
    ]
    assert all(1e-4 <= v <= 1.0 for v in values)
    # Uniform in log10: half below 1e-2 (a linear scale would put 1% there).
    below = sum(v < 1e-2 for v in values) / len(values)
    assert below == pytest.approx(0.5, abs=0.06)
    assert sum(v < 1e-3 for v in values) > 0.15 * len(values)


def test_tiny_log_float_values_keep_their_precision() -> None:
    """Regression: decoding rounded to 12 decimal places, so eps in [1e-15, 1e-13] became 0.0."""
    values = [
        p["eps"]
        for p in sample(
            space_of({"name": "eps", "type": "float", "min": 1e-15, "max": 1e-13, "scale": "log"}),
            count=200,
        )
    ]
    assert all(1e-15 <= v <= 1e-13 for v in values)
    assert len(set(values)) == len(values)


def test_stepped_float_values_are_on_the_step_and_clean() -> None:
    values = [
        p["a"]
        for p in sample(
            space_of({"name": "a", "type": "float", "min": 0.1, "max": 0.9, "step": 0.1}), count=400
        )
    ]
    expected = {0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9}
    assert set(values) == expected  # 0.30000000000000004 would be a different float


@pytest.mark.parametrize(
    ("parameter", "expected"),
    [
        ({"name": "a", "type": "int", "min": 2, "max": 5}, {2, 3, 4, 5}),
        ({"name": "a", "type": "int", "min": 0, "max": 10, "step": 3}, {0, 3, 6, 9}),
        ({"name": "a", "type": "int", "min": -4, "max": 4, "step": 4}, {-4, 0, 4}),
    ],
)
def test_int_values(parameter: dict[str, Any], expected: set[int]) -> None:
    values = [p["a"] for p in sample(space_of(parameter), count=300)]
    assert all(type(v) is int for v in values)
    assert set(values) == expected


def test_log_int_samples_favour_small_values() -> None:
    values = [
        p["a"]
        for p in sample(
            space_of({"name": "a", "type": "int", "min": 1, "max": 1000, "scale": "log"})
        )
    ]
    assert all(type(v) is int and 1 <= v <= 1000 for v in values)
    assert sum(v <= 32 for v in values) / len(values) == pytest.approx(0.5, abs=0.07)


def test_categorical_values_keep_their_types() -> None:
    choices = ["relu", 3, 0.5, True, "3"]
    values = [
        p["c"]
        for p in sample(
            space_of({"name": "c", "type": "categorical", "values": choices}), count=300
        )
    ]
    drawn = {(type(v), v) for v in values}
    assert drawn == {(type(c), c) for c in choices}


def test_reverse_log_is_denser_near_one() -> None:
    """SageMaker's ReverseLogarithmic: values in [min, max), explored more densely near 1."""
    low, high = 0.0, 0.99
    values = [
        p["m"]
        for p in sample(
            space_of({"name": "m", "type": "float", "min": low, "max": high, "scale": "reverseLog"})
        )
    ]
    assert all(low <= v < high for v in values)
    assert statistics.median(values) > (low + high) / 2
    # Uniform in log(1 - v): as many values in [0.9, 0.99) as in [0, 0.9).
    assert sum(v >= 0.9 for v in values) / len(values) == pytest.approx(0.5, abs=0.06)


@given(
    low=st.floats(0.0, 0.98),
    width=st.floats(1e-4, 0.99),
    fraction=st.floats(0.0, 1.0),
)
def test_reverse_log_decode_stays_within_bounds(low: float, width: float, fraction: float) -> None:
    high = min(low + width, 0.999)
    if not low < high:
        return
    space = space_of({"name": "m", "type": "float", "min": low, "max": high, "scale": "reverseLog"})
    distribution = space.distributions["1-m"]
    assert isinstance(distribution, FloatDistribution)
    stored = math.exp(
        math.log(distribution.low)
        + fraction * (math.log(distribution.high) - math.log(distribution.low))
    )
    value = space.decode({"1-m": stored})["m"]
    assert isinstance(value, float)
    assert low <= value <= high
    assert value == pytest.approx(1 - stored, abs=1e-11)


@given(
    exponent_low=st.integers(-300, 5),
    decades=st.integers(1, 6),
    fraction=st.floats(0.0, 1.0),
)
def test_log_float_decode_stays_within_bounds(
    exponent_low: int, decades: int, fraction: float
) -> None:
    low, high = 10.0**exponent_low, 10.0 ** (exponent_low + decades)
    space = space_of({"name": "a", "type": "float", "min": low, "max": high, "scale": "log"})
    stored = math.exp(math.log(low) + fraction * (math.log(high) - math.log(low)))
    value = space.decode({"a": stored})["a"]
    assert isinstance(value, float)
    assert low <= value <= high
    assert value == pytest.approx(stored, rel=1e-11)


def test_encode_and_decode_round_trip() -> None:
    space = space_of(
        {"name": "x", "type": "float", "min": 0.0, "max": 1.0},
        {"name": "m", "type": "float", "min": 0.5, "max": 0.99, "scale": "reverseLog"},
        {"name": "n", "type": "int", "min": 1, "max": 9},
        {"name": "c", "type": "categorical", "values": ["a", 2]},
    )
    params = {"x": 0.25, "m": 0.9, "n": 4, "c": 2}
    stored = space.encode(params)
    assert stored["1-m"] == pytest.approx(0.1)
    assert set(stored) == {"x", "1-m", "n", "c"}
    assert space.decode(stored) == params


def test_decode_skips_parameters_the_trial_does_not_hold() -> None:
    space = space_of(
        {"name": "x", "type": "float", "min": 0.0, "max": 1.0},
        {"name": "n", "type": "int", "min": 1, "max": 9},
    )
    assert space.decode({"n": 3}) == {"n": 3}


# --- grid -----------------------------------------------------------------------------------


def test_grid_enumerates_every_finite_dimension() -> None:
    space = space_of(
        {"name": "x", "type": "float", "min": 0.0, "max": 0.5, "step": 0.1},
        {"name": "n", "type": "int", "min": 0, "max": 10, "step": 4},
        {"name": "c", "type": "categorical", "values": ["a", True, 2]},
        {"name": "d", "type": "int", "min": 1, "max": 8, "scale": "log"},
    )
    assert space.grid() == {
        "x": [0.0, 0.1, 0.2, 0.3, 0.4, 0.5],
        "n": [0, 4, 8],
        "c": ["a", True, 2],
        "d": list(range(1, 9)),
    }
    assert space.grid_size() == 6 * 3 * 3 * 8


def test_grid_of_a_step_that_does_not_divide_the_range() -> None:
    space = space_of({"name": "x", "type": "float", "min": 0.0, "max": 1.0, "step": 0.3})
    assert space.grid() == {"x": [0.0, 0.3, 0.6, 0.9]}


@pytest.mark.parametrize(
    "continuous",
    [
        {"name": "y", "type": "float", "min": 0.0, "max": 1.0},
        {"name": "y", "type": "float", "min": 0.1, "max": 1.0, "scale": "log"},
        {"name": "y", "type": "float", "min": 0.1, "max": 0.9, "scale": "reverseLog"},
    ],
)
def test_no_grid_with_a_continuous_dimension(continuous: dict[str, Any]) -> None:
    space = space_of({"name": "n", "type": "int", "min": 0, "max": 3}, continuous)
    assert space.grid() is None
    assert space.grid_size() is None


@given(
    sizes=st.lists(st.integers(1, 6), min_size=1, max_size=4),
)
def test_grid_size_is_the_product_of_dimension_sizes(sizes: list[int]) -> None:
    parameters = [
        {"name": f"p{i}", "type": "int", "min": 0, "max": size - 1}
        if size > 1
        else {"name": f"p{i}", "type": "categorical", "values": ["only"]}
        for i, size in enumerate(sizes)
    ]
    space = space_of(*parameters)
    grid = space.grid()
    assert grid is not None
    assert [len(values) for values in grid.values()] == sizes
    assert space.grid_size() == math.prod(sizes)


# --- fingerprint ----------------------------------------------------------------------------

BASE_PARAMETERS: list[dict[str, Any]] = [
    {"name": "x", "type": "float", "min": 0.0, "max": 1.0},
    {"name": "n", "type": "int", "min": 1, "max": 5},
    {"name": "c", "type": "categorical", "values": ["a", "b"]},
]


def changed(index: int, **fields: Any) -> list[dict[str, Any]]:
    parameters = [dict(p) for p in BASE_PARAMETERS]
    parameters[index].update(fields)
    return parameters


def test_fingerprint_is_stable() -> None:
    first = space_of(*BASE_PARAMETERS).fingerprint()
    again = space_of(*[dict(p) for p in BASE_PARAMETERS]).fingerprint()
    assert first == again
    assert len(first) == 16
    assert int(first, 16) >= 0


@pytest.mark.parametrize(
    "parameters",
    [
        changed(0, max=2.0),
        changed(0, min=0.5),
        changed(0, step=0.1),
        changed(0, min=0.1, scale="log"),
        changed(0, min=0.1, max=0.9, scale="reverseLog"),
        changed(0, name="y"),
        changed(1, max=6),
        changed(1, step=2),
        changed(1, type="float"),
        changed(2, values=["a", "b", "c"]),
        changed(2, values=["b", "a"]),
        BASE_PARAMETERS[:2],
        [*BASE_PARAMETERS, {"name": "z", "type": "int", "min": 0, "max": 1}],
    ],
    ids=[
        "max",
        "min",
        "step",
        "log",
        "reverseLog",
        "rename",
        "int-max",
        "int-step",
        "int-to-float",
        "more-values",
        "value-order",
        "fewer",
        "more",
    ],
)
def test_fingerprint_changes_with_the_space(parameters: list[dict[str, Any]]) -> None:
    assert space_of(*parameters).fingerprint() != space_of(*BASE_PARAMETERS).fingerprint()


def test_mostly_continuous() -> None:
    assert space_of(*BASE_PARAMETERS).is_mostly_continuous
    assert not space_of(
        {"name": "a", "type": "categorical", "values": [1, 2]},
        {"name": "b", "type": "categorical", "values": [1, 2]},
        {"name": "n", "type": "int", "min": 0, "max": 1},
    ).is_mostly_continuous
