"""Values found by regex definitions keep the step written on their line, like the others."""

from __future__ import annotations

from typing import Any

import pytest
from kubetune.api.spec import Metrics
from kubetune.metrics.logs import parse_log

NAMES = ["loss", "accuracy"]


def parsed(text: str, format_: str, **definitions: str) -> dict[str, list[tuple[int, float]]]:
    metrics: dict[str, Any] = {
        "format": format_,
        "definitions": [{"name": name, "regex": regex} for name, regex in definitions.items()],
    }
    series = parse_log(Metrics(**metrics), NAMES, text)
    return {name: [(o.step, o.value) for o in series.observations(name)] for name in series.names()}


@pytest.mark.parametrize("format_", ["regex", "auto", "keyValue"])
@pytest.mark.parametrize("step_key", ["step", "epoch", "iteration"])
def test_regex_value_takes_the_step_of_its_line(format_: str, step_key: str) -> None:
    text = f"{step_key}=5 loss: 0.5\nloss: 0.25 {step_key}=9\n"
    assert parsed(text, format_, loss=r"loss: ([0-9.]+)") == {"loss": [(5, 0.5), (9, 0.25)]}


@pytest.mark.parametrize("format_", ["regex", "auto"])
def test_lines_without_a_step_are_numbered_after_the_last_one(format_: str) -> None:
    text = "loss: 3\nepoch=5 loss: 2\nloss: 1\n"
    assert parsed(text, format_, loss=r"loss: ([0-9.]+)") == {
        "loss": [(0, 3.0), (5, 2.0), (6, 1.0)]
    }


@pytest.mark.parametrize("step", ["-1", "nan", "inf", "many"])
def test_an_unusable_step_falls_back_to_numbering(step: str) -> None:
    text = f"loss: 1\nepoch={step} loss: 2\n"
    assert parsed(text, "regex", loss=r"loss: ([0-9.]+)") == {"loss": [(0, 1.0), (1, 2.0)]}


def test_regex_and_key_value_metrics_of_one_line_share_its_step() -> None:
    text = "epoch=3 loss: 0.5 accuracy=0.75\n"
    assert parsed(text, "auto", loss=r"loss: ([0-9.]+)") == {
        "loss": [(3, 0.5)],
        "accuracy": [(3, 0.75)],
    }


def test_regex_value_on_a_json_line_takes_its_step() -> None:
    text = '{"step": 4, "note": "loss: 0.5"}\n'
    assert parsed(text, "auto", loss=r"loss: ([0-9.]+)") == {"loss": [(4, 0.5)]}
