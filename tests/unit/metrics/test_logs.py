"""Metrics from trial logs: key=value, JSON lines, SageMaker-style regexes, and hostile input."""

from __future__ import annotations

import math
import time
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from kubetune.api.spec import Metrics
from kubetune.metrics.logs import (
    MAX_LINE_CHARS,
    LogMetricsParser,
    MetricSeries,
    Observation,
    parse_log,
)

NAMES = ["loss", "val-loss", "accuracy"]


def parsed(text: str, names: list[str] = NAMES, **metrics: Any) -> dict[str, list[tuple]]:
    """``{metric: [(step, value), ...]}`` for everything found in ``text``."""
    series = parse_log(Metrics(**metrics), names, text)
    return {name: [(o.step, o.value) for o in series.observations(name)] for name in series.names()}


def regex_metrics(format_: str = "auto", **definitions: str) -> dict[str, Any]:
    return {
        "format": format_,
        "definitions": [{"name": name, "regex": regex} for name, regex in definitions.items()],
    }


# --- key=value ------------------------------------------------------------------------------


def test_several_pairs_per_line_with_dashed_names() -> None:
    assert parsed("loss=0.5 val-loss=0.75 accuracy=0.9\n") == {
        "loss": [(0, 0.5)],
        "val-loss": [(0, 0.75)],
        "accuracy": [(0, 0.9)],
    }


@pytest.mark.parametrize(
    ("line", "value"),
    [
        ("loss=0.25", 0.25),
        ("loss = 0.25", 0.25),
        ("loss=-3", -3.0),
        ("loss=+3", 3.0),
        ("loss=.5", 0.5),
        ("loss=7.", 7.0),
        ("loss=1e-3", 1e-3),
        ("loss=2.5E+4", 2.5e4),
        ("loss=-1.5e-07", -1.5e-07),
        ("[12:00:01] INFO epoch done, loss=0.3, lr=0.1", 0.3),
        ("train: loss=0.3;", 0.3),
    ],
)
def test_key_value_numbers(line: str, value: float) -> None:
    assert parsed(line) == {"loss": [(0, value)]}


@pytest.mark.parametrize(
    ("line", "check"),
    [
        ("loss=nan", math.isnan),
        ("loss=NaN", math.isnan),
        ("loss=inf", lambda v: v == math.inf),
        ("loss=-Infinity", lambda v: v == -math.inf),
    ],
)
def test_key_value_nan_and_inf_are_kept_as_reported(line: str, check: Any) -> None:
    [(step, value)] = parsed(line)["loss"]
    assert step == 0
    assert check(value)


@pytest.mark.parametrize(
    "line",
    [
        "val_loss=0.3",  # another metric whose name ends in "loss"
        "train/loss=0.3",
        "loss=0.3abc",
        "loss=v0.3",
        "loss=1.2.3",
        "loss: 0.3",  # not key=value (needs a regex definition)
        "loss==0.3x",
    ],
)
def test_key_value_ignores_lookalikes(line: str) -> None:
    assert parsed(line) == {}


@pytest.mark.parametrize("step_key", ["step", "epoch", "iteration"])
def test_step_comes_from_the_line(step_key: str) -> None:
    text = f"{step_key}=5 loss=0.5\n{step_key}=10 loss=0.25 accuracy=0.5\n"
    assert parsed(text) == {"loss": [(5, 0.5), (10, 0.25)], "accuracy": [(10, 0.5)]}


def test_step_key_after_the_metric_on_the_line_counts_too() -> None:
    assert parsed("loss=0.5 epoch=3") == {"loss": [(3, 0.5)]}


def test_without_a_step_values_are_numbered_per_metric() -> None:
    text = "loss=3\naccuracy=0.1\nloss=2\nepoch=7 loss=1\nloss=0.5\n"
    assert parsed(text) == {
        "loss": [(0, 3.0), (1, 2.0), (7, 1.0), (8, 0.5)],
        "accuracy": [(0, 0.1)],
    }


@pytest.mark.parametrize("step", ["-1", "nan", "inf"])
def test_unusable_step_falls_back_to_numbering(step: str) -> None:
    assert parsed(f"loss=1\nstep={step} loss=2\n") == {"loss": [(0, 1.0), (1, 2.0)]}


def test_only_requested_metrics_are_kept() -> None:
    assert parsed("loss=1 lr=0.1 momentum=0.9", names=["loss"]) == {"loss": [(0, 1.0)]}


def test_format_key_value_ignores_json_lines() -> None:
    text = '{"loss": 0.5}\nloss=0.25\n'
    assert parsed(text, format="keyValue") == {"loss": [(0, 0.25)]}


# --- JSON lines -----------------------------------------------------------------------------


def test_json_lines_with_step() -> None:
    text = '{"step": 1, "loss": 0.5, "val-loss": 0.75}\n  {"epoch": 2, "loss": 0.25}  \n'
    assert parsed(text) == {"loss": [(1, 0.5), (2, 0.25)], "val-loss": [(1, 0.75)]}


@pytest.mark.parametrize(
    "line",
    [
        '{"loss": "n/a"}',
        '{"loss": null}',
        '{"loss": true}',
        '{"loss": [0.5]}',
        '{"loss": {"value": 0.5}}',
        '["loss", 0.5]',
        "{}",
    ],
)
def test_json_non_numeric_values_are_ignored(line: str) -> None:
    assert parsed(line) == {}


def test_json_ignores_garbage_fields_and_keeps_numbers() -> None:
    line = '{"msg": "epoch end", "meta": {"loss": 9}, "tags": [1, 2], "loss": 0.125, "ok": false}'
    assert parsed(line) == {"loss": [(0, 0.125)]}


def test_json_nan_and_infinity() -> None:
    series = parse_log(Metrics(), NAMES, '{"loss": NaN, "accuracy": Infinity}')
    assert math.isnan(series.observations("loss")[0].value)
    assert series.observations("accuracy")[0].value == math.inf


@pytest.mark.parametrize(
    "line",
    [
        '{"loss": 0.5',
        '{"loss": 0.5, "step": ',
        "{loss=0.5",
        '{"loss": 0.5}}',
        "{" * 5000,
        '{"a": ' + "[" * 5000,  # nesting deeper than Python's recursion limit
        '{"a": ' + "[" * 5000 + "]" * 5000 + ', "loss": 0.5}',
    ],
    ids=[
        "truncated",
        "truncated-step",
        "brace-then-kv",
        "extra-brace",
        "braces",
        "deep-open",
        "deep-closed",
    ],
)
def test_partial_or_hostile_json_is_skipped(line: str) -> None:
    assert parsed(line + "\nloss=0.5\n") == {"loss": [(0, 0.5)]}


def test_format_json_ignores_key_value_lines() -> None:
    text = 'loss=0.25\n{"loss": 0.5}\n'
    assert parsed(text, format="json") == {"loss": [(0, 0.5)]}


def test_auto_reads_both_formats() -> None:
    text = 'loss=3\n{"loss": 2}\nepoch=4 loss=1\n'
    assert parsed(text) == {"loss": [(0, 3.0), (1, 2.0), (4, 1.0)]}


# --- regex definitions ----------------------------------------------------------------------


def test_sagemaker_style_definitions() -> None:
    metrics = regex_metrics(
        "regex",
        **{"val-loss": r"validation-rmse:([-+0-9.eE]+)", "accuracy": r"acc=([0-9.]+)%"},
    )
    text = "[0]\ttrain-rmse:1.5\tvalidation-rmse:1.25\n[1]\tvalidation-rmse:1.0e-1 acc=93.5%\n"
    assert parsed(text, **metrics) == {
        "val-loss": [(0, 1.25), (1, 0.1)],
        "accuracy": [(0, 93.5)],
    }


def test_every_match_on_a_line_is_a_value() -> None:
    metrics = regex_metrics("regex", loss=r"loss ([0-9.]+)")
    assert parsed("loss 3 loss 2 loss 1", **metrics) == {"loss": [(0, 3.0), (1, 2.0), (2, 1.0)]}


def test_format_regex_ignores_generic_formats() -> None:
    metrics = regex_metrics("regex", loss=r"LOSS: ([0-9.]+)")
    assert parsed('loss=9\n{"accuracy": 9}\nLOSS: 1\n', **metrics) == {"loss": [(0, 1.0)]}


@pytest.mark.parametrize("line", ["loss=9 custom loss: 1.5", '{"loss": 9, "note": "loss: 1.5"}'])
def test_definitions_take_precedence_over_generic_formats(line: str) -> None:
    metrics = regex_metrics("auto", loss=r"loss: ([0-9.]+)")
    assert parsed(f"{line}\naccuracy=0.5\n", **metrics) == {
        "loss": [(0, 1.5)],
        "accuracy": [(0, 0.5)],
    }


def test_regex_captures_that_are_not_numbers_are_ignored() -> None:
    metrics = regex_metrics("regex", loss=r"loss: (\S+)")
    assert parsed("loss: pending\nloss: 0.5\nloss: -\n", **metrics) == {"loss": [(0, 0.5)]}


def test_definitions_of_unrequested_metrics_are_not_used() -> None:
    metrics = regex_metrics("auto", other=r"other: ([0-9.]+)")
    assert parsed("other: 1 loss=2", names=["loss"], **metrics) == {"loss": [(0, 2.0)]}


# --- the trial's value: objectiveValue ------------------------------------------------------


def series_of(*values: float) -> MetricSeries:
    series = MetricSeries()
    for step, value in enumerate(values):
        series.add(Observation("loss", step, value))
    return series


@pytest.mark.parametrize(("how", "expected"), [("last", 0.5), ("min", 0.25), ("max", 2.0)])
def test_objective_value(how: str, expected: float) -> None:
    assert series_of(1.0, 2.0, 0.25, 0.5).reduce("loss", how) == expected


@pytest.mark.parametrize("how", ["min", "max"])
def test_min_and_max_are_nan_when_any_value_is(how: str) -> None:
    value = series_of(1.0, math.nan, 0.5).reduce("loss", how)
    assert value is not None
    assert math.isnan(value)


def test_last_ignores_an_earlier_nan() -> None:
    assert series_of(math.nan, 0.5).reduce("loss", "last") == 0.5


@pytest.mark.parametrize("how", ["last", "min", "max"])
def test_no_value_for_an_unreported_metric(how: str) -> None:
    assert series_of(1.0).reduce("accuracy", how) is None


def test_series_accessors() -> None:
    series = series_of(3.0, 1.0)
    assert series.count("loss") == 2
    assert series.count("accuracy") == 0
    assert series.latest("loss") == 1.0
    assert series.latest("accuracy") is None


# --- hostile input --------------------------------------------------------------------------


def test_garbage_and_binary_junk_between_metrics() -> None:
    junk = bytes(range(256)).decode("latin-1")
    text = "\n".join(
        [
            "Traceback (most recent call last):",
            junk,
            "=" * 80,
            "loss=",
            "=0.5",
            "\x00\x00loss=0.5\x00",
            '\ufffd\ufffd{"loss": 0.25}',
            "loss=0.125\r",
        ]
    )
    assert parsed(text) == {"loss": [(0, 0.5), (1, 0.125)]}


@given(st.text(max_size=2000))
def test_never_raises_on_arbitrary_text(text: str) -> None:
    for fmt in ("auto", "keyValue", "json"):
        series = parse_log(Metrics(format=fmt), NAMES, text)
        assert set(series.names()) <= set(NAMES)


@given(st.binary(max_size=2000))
def test_never_raises_on_arbitrary_bytes(data: bytes) -> None:
    text = data.decode("utf-8", errors="replace")
    metrics = Metrics(**regex_metrics("auto", loss=r"loss[:=]\s*(\S+)"))
    series = parse_log(metrics, NAMES, text)
    assert all(
        isinstance(o.value, float) for name in series.names() for o in series.observations(name)
    )


@given(st.lists(st.floats(allow_nan=False, width=64), min_size=1, max_size=20))
def test_every_printed_value_is_read_back(values: list[float]) -> None:
    text = "\n".join(f"noise loss={value!r} accuracy=oops" for value in values)
    assert parsed(text) == {"loss": list(enumerate(values))}


def test_a_10_mb_line_is_cut_before_matching() -> None:
    text = "loss=0.5 " + "x" * 10_000_000 + " loss=0.25 accuracy=1\nloss=0.125\n"
    started = time.perf_counter()
    result = parsed(text)
    elapsed = time.perf_counter() - started

    # Nothing past MAX_LINE_CHARS of the long line is seen; the next line is.
    assert result == {"loss": [(0, 0.5), (1, 0.125)]}
    assert elapsed < 5  # ~0.05 s: linear in the line and capped; a runaway regex takes minutes


@pytest.mark.parametrize(
    "line",
    [
        "a" * MAX_LINE_CHARS * 4,
        "loss=" * (MAX_LINE_CHARS // 2),
        "a " * MAX_LINE_CHARS,
        "loss" + " " * MAX_LINE_CHARS * 4 + "=1",
        "{" + '"loss": 1, ' * MAX_LINE_CHARS,
    ],
    ids=["word", "keys", "spaced", "blank-gap", "long-json"],
)
def test_pathological_lines_do_not_stall(line: str) -> None:
    metrics = Metrics(**regex_metrics("auto", accuracy=r"acc: ([0-9.]+)"))
    started = time.perf_counter()
    parser = LogMetricsParser(metrics, NAMES)
    for _ in range(10):
        parser.feed(line)
    assert time.perf_counter() - started < 5


def test_feeding_line_by_line_equals_parsing_the_whole_log() -> None:
    lines = ["epoch=1 loss=0.9", '{"loss": 0.8, "accuracy": 0.2}', "junk", "loss=0.7"]
    parser = LogMetricsParser(Metrics(), NAMES)
    for line in lines:
        parser.feed(line)
    assert parser.series == parse_log(Metrics(), NAMES, "\r\n".join(lines))
    assert parser.series.latest("loss") == 0.7
