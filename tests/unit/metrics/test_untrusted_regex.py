"""A user's metric regex cannot stall the parser, whatever the pattern and the trial prints."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import threading
import time

import pytest
from kubetune.api.patterns import PatternError, compile_metric_regex
from kubetune.api.spec import Metrics
from kubetune.metrics.logs import parse_log

# The case: with Python's re, one such line holds the GIL for hours.
CATASTROPHIC = r"^(a+)+$"
EVIL_LINE = "a" * 48 + "!"


def test_a_backtracking_pattern_parses_an_evil_log_at_once() -> None:
    # In a subprocess: a backtracking engine would hold the GIL and no in-process timer could
    # stop it.
    script = textwrap.dedent(
        f"""
        from kubetune.api.spec import Metrics
        from kubetune.metrics.logs import parse_log
        definition = {{"name": "loss", "regex": {CATASTROPHIC!r}}}
        metrics = Metrics(format="regex", definitions=[definition])
        series = parse_log(metrics, ["loss"], ({EVIL_LINE!r} + "\\n") * 2000)
        print(series.count("loss"))
        """
    )
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=20, check=True
    )
    assert result.stdout.strip() == "0"


def test_a_long_adversarial_line_takes_linear_time_and_other_threads_run() -> None:
    metrics = Metrics.model_validate(
        {"format": "regex", "definitions": [{"name": "loss", "regex": r"(a|aa)*(b|c)+x([0-9]+)"}]}
    )
    ticks = 0
    done = threading.Event()

    def count_ticks() -> None:
        nonlocal ticks
        while not done.is_set():
            ticks += 1
            time.sleep(0.001)

    counter = threading.Thread(target=count_ticks)
    counter.start()
    began = time.perf_counter()
    series = parse_log(metrics, ["loss"], ("a" * 16_000 + "\n") * 200)
    elapsed = time.perf_counter() - began
    done.set()
    counter.join()
    assert series.count("loss") == 0
    assert elapsed < 5.0
    assert ticks > 0  # the other thread was not starved while the parser worked


def test_values_are_still_found() -> None:
    metrics = Metrics.model_validate(
        {"format": "regex", "definitions": [{"name": "loss", "regex": r"loss: ([0-9.]+)"}]}
    )
    assert parse_log(metrics, ["loss"], "step=1 loss: 0.5\nloss: 0.25\n").latest("loss") == 0.25


@pytest.mark.parametrize(
    ("pattern", "reason"),
    [(r"(a)\1", "invalid escape"), (r"(?<=x)(\d)", "perl operator"), (r"(x", "missing )")],
)
def test_patterns_re2_cannot_run_are_rejected_with_its_reason(pattern: str, reason: str) -> None:
    with pytest.raises(PatternError, match="RE2 syntax") as caught:
        compile_metric_regex(pattern)
    assert reason in str(caught.value)
