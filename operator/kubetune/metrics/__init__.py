"""Where trial metrics come from: pod/process logs (and, later, Prometheus)."""

from kubetune.metrics.logs import (
    MAX_LINE_CHARS,
    LogMetricsParser,
    MetricSeries,
    Observation,
    parse_log,
)

__all__ = ["MAX_LINE_CHARS", "LogMetricsParser", "MetricSeries", "Observation", "parse_log"]
