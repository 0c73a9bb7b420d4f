"""A metric series keeps what a trial's result and early stopping need, in bounded memory:
aggregates over every report and an evenly downsampled curve, the first and latest kept."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st
from kubetune.api.spec import Metrics
from kubetune.metrics.logs import LogMetricsParser
from kubetune.metrics.series import MAX_INTERMEDIATE_VALUES, MetricSeries, Observation

VALUES = st.lists(st.floats(allow_nan=True, allow_infinity=True, width=64), min_size=1)


def unbounded(values: list[float], how: str) -> float:
    """The trial's value as computed from every report kept (before the series was bounded)."""
    if how == "last":
        return values[-1]
    if any(math.isnan(v) for v in values):
        return math.nan
    return min(values) if how == "min" else max(values)


def same(a: float | None, b: float | None) -> bool:
    return a == b or (a is not None and b is not None and math.isnan(a) and math.isnan(b))


@pytest.mark.parametrize("how", ["last", "min", "max"])
@given(values=VALUES, window=st.integers(1, 8))
def test_the_result_is_the_one_every_report_gives(
    how: str, values: list[float], window: int
) -> None:
    series = MetricSeries(window_size=window)
    for value in values:
        series.record("loss", value)
    assert same(series.reduce("loss", how), unbounded(values, how))
    assert same(series.latest("loss"), values[-1])
    assert series.count("loss") == len(values)


def test_a_million_reports_keep_at_most_the_cap() -> None:
    series = MetricSeries()
    for step in range(1_000_000):
        series.record("loss", 1.0 / (step + 1), step)
    kept = series.observations("loss")
    assert len(kept) <= MAX_INTERMEDIATE_VALUES + 1  # the curve, and the latest report
    assert len(series._tracks["loss"].window) <= MAX_INTERMEDIATE_VALUES
    assert kept[0] == Observation("loss", 0, 1.0)
    assert kept[-1] == Observation("loss", 999_999, 1e-6)
    assert series.count("loss") == 1_000_000
    assert series.reduce("loss", "min") == 1e-6
    assert series.reduce("loss", "max") == 1.0


@given(st.integers(1, 3000), st.integers(2, 64))
def test_the_curve_is_evenly_spaced_with_the_first_and_latest(reports: int, window: int) -> None:
    series = MetricSeries(window_size=window)
    for step in range(reports):
        series.record("loss", float(step))  # no step printed: the count of reports before
    steps = [o.step for o in series.observations("loss")]
    assert steps[0] == 0
    assert steps[-1] == reports - 1
    stride = steps[1] - steps[0] if len(steps) > 1 else 1
    curve = [step for step in steps if step % stride == 0]
    assert [step for step in steps if step % stride] in ([], [reports - 1])  # the latest
    assert curve == list(range(0, reports, stride))
    assert stride & (stride - 1) == 0  # a power of two: halved windows nest in each other
    assert len(curve) <= window
    assert len(curve) > window // 2 or reports <= window  # thinned no more than it must be


@given(st.lists(st.floats(allow_nan=False, width=64), max_size=300), st.integers(0, 300))
def test_the_curve_depends_on_the_reports_only(values: list[float], cut: int) -> None:
    """Fed in one go or in two (a snapshot taken between, as a running trial is read), the
    same reports keep the same curve; the snapshot does not change afterwards."""
    whole = MetricSeries(window_size=8)
    for step, value in enumerate(values):
        whole.add(Observation("loss", step, value))
    parts = MetricSeries(window_size=8)
    for step, value in enumerate(values[:cut]):
        parts.add(Observation("loss", step, value))
    snapshot = parts.snapshot()
    before = snapshot.observations("loss")
    for step, value in enumerate(values[cut:], start=cut):
        parts.add(Observation("loss", step, value))
    assert parts == whole
    assert parts.observations("loss") == whole.observations("loss")
    assert snapshot.observations("loss") == before


def test_metrics_are_kept_apart() -> None:
    series = MetricSeries(window_size=4)
    for step in range(100):
        series.record("loss", float(step), step)
        if step % 10 == 0:
            series.record("accuracy", step / 100)
    assert series.names() == ["loss", "accuracy"]
    assert series.count("accuracy") == 10
    assert [o.step for o in series.observations("accuracy")] == [0, 4, 8, 9]
    assert series.reduce("accuracy", "max") == 0.9
    assert series.observations("val-loss") == ()
    assert series.reduce("val-loss", "last") is None


def test_200000_printed_values_are_read_whole_and_kept_bounded() -> None:
    """Every line printed is a report: the result sees all of them, the curve keeps the cap;
    the step each line prints is the step of its value."""
    lines = "".join(f"step={i} loss={1 + 1 / (i + 1):.6f}\n" for i in range(200_000))
    parser = LogMetricsParser(Metrics(), ["loss"])
    series = parser.feed_text(lines + "loss=1.5\n")
    assert series.count("loss") == 200_001
    assert series.reduce("loss", "last") == 1.5
    assert series.reduce("loss", "min") == 1.000005  # the last of the 200,000, not in the curve
    assert series.reduce("loss", "max") == 2.0
    kept = series.observations("loss")
    assert len(kept) <= MAX_INTERMEDIATE_VALUES + 1
    assert 199_999 not in {o.step for o in kept}
    assert kept[0] == Observation("loss", 0, 2.0)
    assert kept[-1] == Observation("loss", 200_000, 1.5)  # the step after the last printed


def test_an_unknown_objective_value_is_an_error() -> None:
    series = MetricSeries()
    series.record("loss", 1.0)
    with pytest.raises(ValueError, match="'mean'"):
        series.reduce("loss", "mean")
