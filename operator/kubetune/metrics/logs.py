"""Metrics printed by training code: ``name=value`` lines, JSON lines, or per-metric regexes.

No SDK and no sidecar: a trial reports by printing. Three formats are understood:

* ``keyValue`` (Katib's default): ``epoch=3 val_loss=0.21 accuracy=0.93``
* ``json``: ``{"step": 3, "val_loss": 0.21}``
* ``regex`` (SageMaker MetricDefinitions): one capture group per metric, e.g. ``loss: ([0-9.]+)``

``auto`` reads both key=value and JSON lines. Definitions, when given, take precedence for their
metrics in every format. Each value keeps its step: the ``step`` (or ``epoch``/``iteration``) on
the same line when there is one, else how many values of that metric came before. Lines are
capped in length before any matching, so a runaway line cannot stall the parser. Logs are cut
into lines by ``kubetune.metrics.lines`` (a line is what a terminal shows: a ``\\r`` redraws
it), the same on every path.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterable, Mapping, Sequence

from kubetune.api.patterns import compile_metric_regex
from kubetune.api.spec import Metrics
from kubetune.metrics.lines import MAX_LINE_BYTES, LineSplitter
from kubetune.metrics.series import MetricSeries, Observation

# Observation and MetricSeries live in kubetune.metrics.series; importing them from here, where
# they are produced, still works.
__all__ = [
    "MAX_LINE_CHARS",
    "STEP_KEYS",
    "LogMetricsParser",
    "MetricSeries",
    "Observation",
    "parse_log",
]

MAX_LINE_CHARS = MAX_LINE_BYTES // 4
"""What the parser reads of a line: every character of it is in what the splitter keeps."""
STEP_KEYS = ("step", "epoch", "iteration")

_NUMBER = r"[-+]?(?:(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?|nan|inf(?:inity)?)"
_KEY_VALUE = re.compile(
    rf"(?<![\w.:/-])([A-Za-z_][\w.:/-]*)\s*=\s*({_NUMBER})(?![\w.])", re.IGNORECASE
)


def _to_float(value: object) -> float | None:
    if isinstance(value, str):  # first: every key=value pair is one
        try:
            return float(value)
        except ValueError:
            return None
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value)
    return None


class LogMetricsParser:
    """Incremental parser: feed it lines (or bytes) as they arrive, read ``series`` at any time.

    A line is matched only when it can hold a metric: the generic formats look for a requested
    name in it first (a substring test, far cheaper than the pattern), as most lines of a log
    (and every redraw of a bar without the metric) hold none.
    """

    def __init__(self, metrics: Metrics, names: Sequence[str]) -> None:
        self._names = tuple(dict.fromkeys(names))
        self._regexes = {
            definition.name: compile_metric_regex(definition.regex)  # RE2: linear time
            for definition in metrics.definitions
            if definition.name in self._names
        }
        fmt = metrics.format
        self._key_value = fmt in ("auto", "keyValue")
        self._json = fmt in ("auto", "json")
        self._lines = LineSplitter()  # for feed_bytes: a partial last line waits for its end
        self.series = MetricSeries()

    def feed_lines(self, lines: Iterable[str]) -> MetricSeries:
        feed = self.feed
        for line in lines:
            feed(line)
        return self.series

    def feed_bytes(self, chunk: bytes) -> None:
        """A piece of a log as read, cut into lines by the rule every log path follows."""
        self.feed_lines(self._lines.feed(chunk))

    def close(self) -> MetricSeries:
        """The log ended: its last line counts without a line end."""
        return self.feed_lines(self._lines.flush())

    def feed_chunks(self, chunks: Iterable[bytes]) -> MetricSeries:
        """Every line of a whole log that arrives in chunks (a stream, a file's reads)."""
        for chunk in chunks:
            self.feed_bytes(chunk)
        return self.close()

    def feed_text(self, text: str) -> MetricSeries:
        """Every line of a whole log, cut by the rule every log path follows."""
        return self.feed_chunks([text.encode("utf-8", errors="surrogatepass")])

    def feed(self, line: str) -> None:
        line = line[:MAX_LINE_CHARS]
        if self._regexes:
            self._feed_with_definitions(line)
        elif self._mentions(line):  # most lines are not looked at further
            self._record_all(*self._parse_generic(line))

    def _mentions(self, line: str) -> bool:
        """Whether a generic format could find a requested metric in ``line``: its name is in
        it, or a backslash is (a JSON key may spell it with escapes)."""
        for name in self._names:  # a loop, not any(): this runs for every line of every log
            if name in line:
                return True
        return self._json and "\\" in line

    def _parse_generic(self, line: str) -> tuple[dict[str, float], int | None]:
        """The metrics ``line`` holds in the format (key=value or JSON) it is written in."""
        if self._json and "{" in line:
            stripped = line.strip()
            if stripped.startswith("{"):
                return self._parse_json(stripped)
        if self._key_value:
            pairs = dict(_KEY_VALUE.findall(line))
            found = {name: float(pairs[name]) for name in self._names if name in pairs}
            return found, _step_of(pairs) if found else None
        return {}, None

    def _record_all(self, found: Mapping[str, float], step: int | None) -> None:
        record = self.series.record
        for name, value in found.items():
            record(name, value, step)

    def _feed_with_definitions(self, line: str) -> None:
        found, step = self._parse_generic(line) if self._mentions(line) else ({}, None)
        matched: list[tuple[str, float]] = []
        for name, regex in self._regexes.items():
            found.pop(name, None)  # a definition overrides the generic format for its metric
            for match in regex.finditer(line):
                value = _to_float(match.group(1))
                if value is not None:
                    matched.append((name, value))
        if matched:
            # A regex value keeps the step of its line too: the JSON line's, else a step=N,
            # epoch=N or iteration=N written anywhere on it (in every format, regex included).
            line_step = step if step is not None else _step_of(dict(_KEY_VALUE.findall(line)))
            for name, value in matched:
                self.series.record(name, value, line_step)
        self._record_all(found, step)

    def _parse_json(self, text: str) -> tuple[dict[str, float], int | None]:
        try:
            document = json.loads(text)
        except (ValueError, RecursionError):  # RecursionError: e.g. '{"a": [[[[...' nested deep
            return {}, None
        if not isinstance(document, Mapping):
            return {}, None
        found = {
            name: number
            for name in self._names
            if name in document and (number := _to_float(document[name])) is not None
        }
        return found, _step_of(document)


def _step_of(values: Mapping[str, object]) -> int | None:
    for key in STEP_KEYS:
        if key in values:
            number = _to_float(values[key])
            if number is not None and 0 <= number < math.inf:  # not NaN, not infinite
                return int(number)
    return None


def parse_log(metrics: Metrics, names: Sequence[str], text: str) -> MetricSeries:
    """Every metric value in a whole log."""
    return LogMetricsParser(metrics, names).feed_text(text)
