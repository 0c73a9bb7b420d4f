"""Metrics printed by training code: ``name=value`` lines, JSON lines, or per-metric regexes.

No SDK and no sidecar: a trial reports by printing. Three formats are understood:

* ``keyValue`` (Katib's default): ``epoch=3 val_loss=0.21 accuracy=0.93``
* ``json``: ``{"step": 3, "val_loss": 0.21}``
* ``regex`` (SageMaker MetricDefinitions): one capture group per metric, e.g. ``loss: ([0-9.]+)``

``auto`` reads both key=value and JSON lines. Definitions, when given, take precedence for their
metrics in every format. Each value keeps its step: the ``step`` (or ``epoch``/``iteration``) on
the same line when there is one, else how many values of that metric came before. Lines are
capped in length before any matching, so a runaway line cannot stall the parser. Logs are cut
into lines by ``kubetune.metrics.lines`` (``\\r`` ends a line too), the same on every path.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from kubetune.api.patterns import compile_metric_regex
from kubetune.api.spec import Metrics
from kubetune.metrics.lines import MAX_LINE_BYTES, iter_lines

MAX_LINE_CHARS = MAX_LINE_BYTES // 4
"""What the parser reads of a line: every character of it is in what the splitter keeps."""
STEP_KEYS = ("step", "epoch", "iteration")

_NUMBER = r"[-+]?(?:(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?|nan|inf(?:inity)?)"
_KEY_VALUE = re.compile(
    rf"(?<![\w.:/-])([A-Za-z_][\w.:/-]*)\s*=\s*({_NUMBER})(?![\w.])", re.IGNORECASE
)


@dataclass(frozen=True)
class Observation:
    """One reported value of one metric."""

    metric: str
    step: int
    value: float


@dataclass
class MetricSeries:
    """Every value reported per metric, in the order they were printed."""

    values: dict[str, list[Observation]] = field(default_factory=dict)

    def add(self, observation: Observation) -> None:
        self.values.setdefault(observation.metric, []).append(observation)

    def count(self, metric: str) -> int:
        return len(self.values.get(metric, ()))

    def snapshot(self) -> MetricSeries:
        """A copy that later reports do not change (for a reader while a trial still runs)."""
        return MetricSeries({name: list(items) for name, items in self.values.items()})

    def latest(self, metric: str) -> float | None:
        observations = self.values.get(metric)
        return observations[-1].value if observations else None

    def reduce(self, metric: str, how: str) -> float | None:
        """The trial's value for a metric: ``last``, ``min`` or ``max`` of its reports."""
        observations = self.values.get(metric)
        if not observations:
            return None
        numbers = [o.value for o in observations]
        if how == "last":
            return numbers[-1]
        if any(math.isnan(n) for n in numbers):
            return math.nan
        return min(numbers) if how == "min" else max(numbers)


def _to_float(value: object) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            return None
    return None


class LogMetricsParser:
    """Incremental parser: feed it lines as they arrive, read ``series`` at any time."""

    def __init__(self, metrics: Metrics, names: Sequence[str]) -> None:
        self._names = frozenset(names)
        self._regexes = {
            definition.name: compile_metric_regex(definition.regex)  # RE2: linear time
            for definition in metrics.definitions
            if definition.name in self._names
        }
        fmt = metrics.format
        self._key_value = fmt in ("auto", "keyValue")
        self._json = fmt in ("auto", "json")
        self.series = MetricSeries()

    def feed_lines(self, lines: Iterable[str]) -> MetricSeries:
        for line in lines:
            self.feed(line)
        return self.series

    def feed_text(self, text: str) -> MetricSeries:
        """Every line of a whole log, cut by the rule every log path follows."""
        return self.feed_lines(iter_lines([text.encode("utf-8", errors="surrogatepass")]))

    def feed(self, line: str) -> None:
        line = line[:MAX_LINE_CHARS]
        found: dict[str, float] = {}
        step: int | None = None
        stripped = line.strip()
        if self._json and stripped.startswith("{"):
            found, step = self._parse_json(stripped)
        elif self._key_value:
            found, step = self._parse_key_value(line)
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
                self._record(name, value, line_step)
        for name, value in found.items():
            self._record(name, value, step)

    def _record(self, name: str, value: float, step: int | None) -> None:
        if step is None:
            previous = self.series.values.get(name)
            step = previous[-1].step + 1 if previous else 0
        self.series.add(Observation(name, step, value))

    def _parse_json(self, text: str) -> tuple[dict[str, float], int | None]:
        try:
            document = json.loads(text)
        except (ValueError, RecursionError):  # RecursionError: e.g. '{"a": [[[[...' nested deep
            return {}, None
        if not isinstance(document, Mapping):
            return {}, None
        found = {
            name: number
            for name, raw in document.items()
            if name in self._names and (number := _to_float(raw)) is not None
        }
        return found, _step_of(document)

    def _parse_key_value(self, line: str) -> tuple[dict[str, float], int | None]:
        pairs = dict(_KEY_VALUE.findall(line))
        found = {name: float(value) for name, value in pairs.items() if name in self._names}
        return found, _step_of(pairs) if found else None


def _step_of(values: Mapping[str, object]) -> int | None:
    for key in STEP_KEYS:
        if key in values:
            number = _to_float(values[key])
            if number is not None and math.isfinite(number) and number >= 0:
                return int(number)
    return None


def parse_log(metrics: Metrics, names: Sequence[str], text: str) -> MetricSeries:
    """Every metric value in a whole log."""
    return LogMetricsParser(metrics, names).feed_text(text)
