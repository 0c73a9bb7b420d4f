"""What a trial reported, per metric, in bounded memory however much it prints.

A trial may print a metric hundreds of thousands of times (a tqdm bar redrawn with ``\\r``, one
report per redraw). Its result needs only the last, the smallest and the largest value
(``metrics.objectiveValue``: last, min or max); early stopping and the journal need a curve of
intermediate values, which the journal caps at ``MAX_INTERMEDIATE_VALUES`` per trial. So each
metric keeps running aggregates over every value plus a window of at most that many
observations, downsampled evenly as it grows: the first report, every ``stride``-th one after
it (the stride doubles each time the window fills) and the latest. The window depends only on
the sequence of reports, never on how they were read, so one trial gives the same curve locally
and on a cluster.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from typing import Final

MAX_INTERMEDIATE_VALUES: Final = 1_000
"""Intermediate values per trial and metric that are kept, judged by early stopping and
journaled (its latest value is kept too). One constant for the series and the journal."""


@dataclass(frozen=True)
class Observation:
    """One reported value of one metric."""

    metric: str
    step: int
    value: float


@dataclass(eq=True)
class _Track:
    """One metric: aggregates over every report, and the downsampled window."""

    metric: str
    window_size: int
    count: int = 0  # reports, all of them
    last_step: int = 0
    last: float = math.nan
    low: float = math.inf
    high: float = -math.inf
    saw_nan: bool = False
    stride: int = 1  # the window holds the reports whose index is a multiple of it
    window: list[Observation] = field(default_factory=list)

    def add(self, step: int | None, value: float) -> None:
        index = self.count
        if step is None:  # the one after the previous report's (0 first)
            step = self.last_step + 1 if index else 0
        self.count = index + 1
        self.last_step = step
        self.last = value
        if math.isnan(value):
            self.saw_nan = True
        else:
            self.low = min(self.low, value)
            self.high = max(self.high, value)
        if index % self.stride == 0:
            self.window.append(Observation(self.metric, step, value))
            if len(self.window) > self.window_size:
                # Halving keeps index 0 and every multiple of the doubled stride: the same
                # reports whenever the halving happens, so the window depends on nothing else.
                del self.window[1::2]
                self.stride *= 2

    def observations(self) -> tuple[Observation, ...]:
        if not self.count:
            return ()
        kept = self.window
        if (self.count - 1) % self.stride == 0:  # the latest is in the window already
            return tuple(kept)
        return (*kept, Observation(self.metric, self.last_step, self.last))

    def copy(self) -> _Track:
        return replace(self, window=list(self.window))


@dataclass
class MetricSeries:
    """The values a trial reported, per metric name: running aggregates over all of them (what
    the trial's result is taken from) and a bounded, evenly downsampled curve (what early
    stopping judges and the journal stores), both in the order they were printed."""

    window_size: int = MAX_INTERMEDIATE_VALUES
    _tracks: dict[str, _Track] = field(default_factory=dict)

    def add(self, observation: Observation) -> None:
        self.record(observation.metric, observation.value, observation.step)

    def record(self, metric: str, value: float, step: int | None = None) -> None:
        """One report; without a step, the one after the metric's previous report (0 first)."""
        track = self._tracks.get(metric)
        if track is None:
            track = self._tracks[metric] = _Track(metric, self.window_size)
        track.add(step, value)

    def names(self) -> list[str]:
        """The metrics reported at least once, in the order they first were."""
        return list(self._tracks)

    def count(self, metric: str) -> int:
        """How many values of ``metric`` were reported (all of them, not only those kept)."""
        track = self._tracks.get(metric)
        return track.count if track else 0

    def latest(self, metric: str) -> float | None:
        track = self._tracks.get(metric)
        return track.last if track else None

    def reduce(self, metric: str, how: str) -> float | None:
        """The trial's value for a metric over every report: ``last``, ``min`` or ``max`` (NaN
        when any report was NaN, as ``min``/``max`` of the values would not be defined)."""
        if how not in ("last", "min", "max"):
            raise ValueError(f"no such objective value: {how!r} (last, min or max)")
        track = self._tracks.get(metric)
        if track is None:
            return None
        if how == "last":
            return track.last
        if track.saw_nan:
            return math.nan
        return track.low if how == "min" else track.high

    def observations(self, metric: str) -> tuple[Observation, ...]:
        """The kept curve: at most ``window_size`` + 1 observations, the first and the latest
        always among them, evenly spaced in between."""
        track = self._tracks.get(metric)
        return track.observations() if track else ()

    def snapshot(self) -> MetricSeries:
        """A copy that later reports do not change (for a reader while a trial still runs)."""
        return MetricSeries(
            self.window_size, {name: track.copy() for name, track in self._tracks.items()}
        )
