"""Trial metrics from Prometheus' HTTP API (``metrics.source: prometheus``).

Trials need no sidecar and no SDK here either: they expose ``/metrics`` for Prometheus to scrape
(a PodMonitor, or the scrape annotations the operator's chart selects) or push to a Pushgateway.
kubetune runs one PromQL query per metric, with the trial's identity substituted
(``${trial.name}``, ``${trial.number}``, ``${trial.namespace}``, ``${trial.pod}``,
``${tuningjob}``), over the trial's lifetime (``/api/v1/query_range``), and turns the answer into
the same ``MetricSeries`` the log parser produces:

* a series with a ``step`` label gives one value per step: its last sample;
* otherwise each sample is a value at step = whole seconds since the trial started.

A Prometheus that is down, slow or failing is retried with backoff and then reported as
unavailable (``PrometheusUnavailable``): the trial waits, it is never recorded from a partial
answer. Only a series that never appears within a grace period after the trial ended makes it
``MetricsUnavailable``.
"""

from __future__ import annotations

import json
import logging
import math
import os
import re
import ssl
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kubetune.api.duration import parse_duration
from kubetune.api.spec import PrometheusSource, TuningJobSpec
from kubetune.api.validation import QUERY_VARIABLE, QUERY_VARIABLES
from kubetune.metrics.credentials import checked_bearer_token, display_url, redact
from kubetune.metrics.logs import MetricSeries, Observation

log = logging.getLogger(__name__)

DEFAULT_TIMEOUT_SECONDS = 10.0
DEFAULT_RETRIES = 3
MAX_POINTS = 10_000  # Prometheus refuses range queries of more than 11,000 points per series
GRACE_INTERVALS = 5  # a finished trial's series may appear this many intervals late


class PrometheusError(Exception):
    """A query that did not produce an answer."""


class PrometheusUnavailable(PrometheusError):
    """Prometheus is down, slow or failing (after retries): try again later."""


class PrometheusQueryError(PrometheusError):
    """Prometheus refused the query (bad PromQL, bad parameters): retrying will not help."""


@dataclass(frozen=True)
class PrometheusAuth:
    """How to authenticate to Prometheus. Never logged; a token that could not be sent as a
    header (a line break, a control character) is refused here, before any request."""

    bearer_token: str | None = field(default=None, repr=False)
    ca_data: str | None = field(default=None, repr=False)  # PEM
    insecure_skip_verify: bool = False

    def __post_init__(self) -> None:
        object.__setattr__(self, "bearer_token", checked_bearer_token(self.bearer_token))


@dataclass(frozen=True)
class Sample:
    timestamp: float
    value: float


@dataclass(frozen=True)
class Series:
    labels: Mapping[str, str]
    samples: tuple[Sample, ...]


def escape_label_value(value: str) -> str:
    """A value safe inside a double-quoted PromQL string (label matchers)."""
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def render_query(template: str, variables: Mapping[str, str]) -> str:
    """``template`` with ``${trial.name}`` & co. replaced by escaped values."""

    def substitute(match: re.Match[str]) -> str:
        name = match.group(1).strip()
        if name not in variables:
            raise ValueError(f"unknown variable ${{{name}}} (known: {', '.join(QUERY_VARIABLES)})")
        return escape_label_value(variables[name])

    return QUERY_VARIABLE.sub(substitute, template)


class PrometheusClient:
    """A small synchronous client for ``/api/v1/query`` and ``/api/v1/query_range``.

    Connection errors, timeouts, 429 and 5xx answers are retried ``retries`` times with
    exponential backoff, then raised as ``PrometheusUnavailable``; 4xx answers raise
    ``PrometheusQueryError`` at once.
    """

    def __init__(
        self,
        url: str,
        auth: PrometheusAuth | None = None,
        timeout: float = DEFAULT_TIMEOUT_SECONDS,
        retries: int = DEFAULT_RETRIES,
        backoff: float = 0.5,
        sleep: Callable[[float], None] = time.sleep,
        on_retry: Callable[[], None] | None = None,
    ) -> None:
        self.url = url.rstrip("/")
        self.auth = auth or PrometheusAuth()
        self.timeout = timeout
        self.retries = retries
        self.backoff = backoff
        self.sleep = sleep
        self.on_retry = on_retry
        self._context: ssl.SSLContext | None = None
        if self.url.startswith("https://"):
            self._context = ssl.create_default_context(cadata=self.auth.ca_data)
            if self.auth.insecure_skip_verify:
                self._context.check_hostname = False
                self._context.verify_mode = ssl.CERT_NONE

    def query(self, promql: str, at: float | None = None) -> list[Series]:
        """An instant query: each series with its one sample."""
        params = {"query": promql}
        if at is not None:
            params["time"] = f"{at:.3f}"
        return self._series(self._call("/api/v1/query", params))

    def query_range(self, promql: str, start: float, end: float, step: float) -> list[Series]:
        """A range query: each series with its samples between ``start`` and ``end``."""
        params = {
            "query": promql,
            "start": f"{start:.3f}",
            "end": f"{end:.3f}",
            "step": f"{max(step, 0.001):.3f}",
        }
        return self._series(self._call("/api/v1/query_range", params))

    def _call(self, path: str, params: Mapping[str, str]) -> Any:
        body = urllib.parse.urlencode(params).encode()
        headers = {
            "Content-Type": "application/x-www-form-urlencoded",
            "Accept": "application/json",
        }
        if self.auth.bearer_token:
            headers["Authorization"] = f"Bearer {self.auth.bearer_token}"
        problem = ""
        for attempt in range(self.retries + 1):
            if attempt:
                if self.on_retry is not None:
                    self.on_retry()
                self.sleep(self.backoff * 2 ** (attempt - 1))
            request = urllib.request.Request(self.url + path, body, headers, method="POST")
            try:
                with urllib.request.urlopen(
                    request, timeout=self.timeout, context=self._context
                ) as response:
                    return _data(json.load(response))
            except urllib.error.HTTPError as error:
                detail = self._redact(_error_text(error))
                if error.code == 429 or error.code >= 500:
                    problem = f"HTTP {error.code}: {detail}"
                    continue
                raise PrometheusQueryError(f"HTTP {error.code}: {detail}") from None
            except (urllib.error.URLError, TimeoutError, ConnectionError, OSError) as error:
                reason = getattr(error, "reason", error)
                problem = self._redact(f"{type(reason).__name__}: {reason}")
                continue
            except ValueError as error:  # not JSON: a proxy's error page
                problem = self._redact(f"not a Prometheus answer: {error}")
                continue
        raise PrometheusUnavailable(f"{display_url(self.url)} did not answer: {problem}")

    def _redact(self, text: str) -> str:
        """Error texts go into statuses, Events and logs: no credential may ride along."""
        return redact(text, [self.auth.bearer_token, self.auth.ca_data])

    @staticmethod
    def _series(data: Any) -> list[Series]:
        kind = data.get("resultType")
        result = data.get("result") or []
        if kind == "scalar":
            return [Series({}, (_sample(result),))]
        if kind not in ("vector", "matrix"):
            raise PrometheusQueryError(f"expected a vector or matrix, got {kind}")
        series = []
        for item in result:
            raw = item.get("values") or ([item["value"]] if "value" in item else [])
            series.append(Series(dict(item.get("metric") or {}), tuple(map(_sample, raw))))
        return series


def _sample(raw: Sequence[Any]) -> Sample:
    return Sample(float(raw[0]), float(raw[1]))


def _data(document: Any) -> Any:
    if not isinstance(document, dict) or document.get("status") != "success":
        error = document.get("error") if isinstance(document, dict) else document
        raise PrometheusQueryError(f"query failed: {error}")
    return document.get("data") or {}


def _error_text(error: urllib.error.HTTPError) -> str:
    try:
        document = json.loads(error.read() or b"{}")
        return str(document.get("error") or error.reason)
    except (ValueError, OSError):
        return str(error.reason)


def to_observations(metric: str, series: Sequence[Series], started_at: float) -> list[Observation]:
    """One metric's values: per ``step`` label when there is one, else per second of runtime."""
    labelled = [s for s in series if "step" in s.labels and s.labels["step"].isdigit()]
    by_step: dict[int, Sample] = {}
    if labelled:
        for item in labelled:
            if item.samples:
                last = max(item.samples, key=lambda sample: sample.timestamp)
                step = int(item.labels["step"])
                if step not in by_step or by_step[step].timestamp <= last.timestamp:
                    by_step[step] = last
    else:
        if len(series) > 1:
            log.warning(
                "the query for %s returned %d series; using the longest (add matchers to "
                "select one)",
                metric,
                len(series),
            )
        chosen = max(series, key=lambda item: len(item.samples), default=None)
        for sample in chosen.samples if chosen else ():
            by_step[max(0, int(sample.timestamp - started_at))] = sample
    return [Observation(metric, step, by_step[step].value) for step in sorted(by_step)]


@dataclass(frozen=True)
class TrialRef:
    """What identifies a trial in PromQL, and when it started."""

    number: int
    name: str
    namespace: str
    tuningjob: str
    pod: str
    started_at: float

    def variables(self) -> dict[str, str]:
        return {
            "trial.name": self.name,
            "trial.number": str(self.number),
            "trial.namespace": self.namespace,
            "trial.pod": self.pod,
            "tuningjob": self.tuningjob,
        }


@dataclass
class _Cached:
    series: MetricSeries
    queried_at: float


class PrometheusMetrics:
    """The trials' metrics from Prometheus, as both backends use them.

    ``running`` gives a running trial's values so far (queried at most once per ``interval``);
    ``finished`` gives a finished trial's final values once they can be trusted, or None while
    the backend must keep the trial waiting. ``error`` says why Prometheus is unavailable (None
    once a query succeeds again).
    """

    def __init__(
        self,
        spec: TuningJobSpec,
        client: PrometheusClient,
        clock: Callable[[], float] = time.time,
    ) -> None:
        source = spec.metrics.prometheus
        assert source is not None  # validation requires it for source prometheus
        self.source: PrometheusSource = source
        self.client = client
        self.clock = clock
        self.objectives = spec.objective_metrics
        self.interval = parse_duration(source.interval)
        self.grace = GRACE_INTERVALS * self.interval
        self.error: str | None = None
        self._running: dict[int, _Cached] = {}
        self._final: dict[int, MetricSeries] = {}
        self._final_tried: dict[int, float] = {}

    def running(self, trial: TrialRef) -> MetricSeries | None:
        now = self.clock()
        cached = self._running.get(trial.number)
        if cached is not None and now - cached.queried_at < self.interval:
            return cached.series
        try:
            series = self._query(trial, now)
        except PrometheusError as error:
            self._failed(error)
            if cached is not None:
                cached.queried_at = now  # wait an interval before asking again
            return cached.series if cached else None
        self._running[trial.number] = _Cached(series, now)
        return series

    def finished(self, trial: TrialRef, ended_at: float) -> MetricSeries | None:
        """The final values; None while they may still arrive or Prometheus is unavailable."""
        final = self._final.get(trial.number)
        if final is not None:
            return final
        now = self.clock()
        if now < ended_at + self.interval:  # the last scrape after the end may be pending
            return None
        tried = self._final_tried.get(trial.number)
        if tried is not None and now - tried < self.interval:
            return None
        self._final_tried[trial.number] = now
        try:
            series = self._query(trial, now)
        except PrometheusQueryError as error:
            self._failed(error)
            series = MetricSeries()  # a refused query will not improve: give up after grace
        except PrometheusUnavailable as error:
            self._failed(error)
            return None  # an outage never makes a trial MetricsUnavailable
        missing = any(series.count(name) == 0 for name in self.objectives)
        if missing and now < ended_at + self.grace:
            return None
        self._final[trial.number] = series
        self._running.pop(trial.number, None)
        return series

    def forget(self, keep: set[int]) -> None:
        """Drop what is cached about trials not in ``keep``."""
        for cache in (self._running, self._final, self._final_tried):
            for number in [n for n in cache if n not in keep]:
                del cache[number]

    def _failed(self, error: PrometheusError) -> None:
        if self.error != str(error):
            log.warning("Prometheus query failed: %s", error)
        self.error = str(error)

    def _query(self, trial: TrialRef, now: float) -> MetricSeries:
        start = min(trial.started_at, now)
        end = max(now, start + 0.001)
        step = max(self.interval, (end - start) / MAX_POINTS, 1.0)
        result = MetricSeries()
        for query in self.source.queries:
            promql = render_query(query.query, trial.variables())
            series = self.client.query_range(promql, start, end, step)
            for observation in to_observations(query.metric, series, trial.started_at):
                if math.isfinite(observation.value) or query.metric in self.objectives:
                    result.add(observation)
        self.error = None
        return result


ENV_URL = "KUBETUNE_PROMETHEUS_URL"
ENV_TOKEN = "KUBETUNE_PROMETHEUS_TOKEN"
ENV_TOKEN_FILE = "KUBETUNE_PROMETHEUS_TOKEN_FILE"
ENV_CA_FILE = "KUBETUNE_PROMETHEUS_CA_FILE"


class PrometheusNotConfigured(ValueError):
    """``metrics.source: prometheus`` without a URL in the spec or the runner's settings."""


def prometheus_url(source: PrometheusSource, default: str | None) -> str:
    """The spec's URL, else the runner's default (``--prometheus-url`` / the environment)."""
    url = source.url or default or os.environ.get(ENV_URL)
    if not url:
        raise PrometheusNotConfigured(
            "spec.metrics.prometheus.url is not set and no default is configured "
            f"(--prometheus-url or ${ENV_URL})"
        )
    return url


def auth_from_environment(source: PrometheusSource) -> PrometheusAuth:
    """Credentials for the local runner: ``$KUBETUNE_PROMETHEUS_TOKEN`` (or ``_TOKEN_FILE``)
    and ``$KUBETUNE_PROMETHEUS_CA_FILE``; the spec's Secret references need a cluster."""
    token = os.environ.get(ENV_TOKEN)
    token_file = os.environ.get(ENV_TOKEN_FILE)
    if not token and token_file:
        token = Path(token_file).read_text().strip()
    ca_file = os.environ.get(ENV_CA_FILE)
    ca_data = Path(ca_file).read_text() if ca_file else None
    return PrometheusAuth(token or None, ca_data, source.insecure_skip_verify)


def local_prometheus_metrics(
    spec: TuningJobSpec, default_url: str | None = None
) -> PrometheusMetrics | None:
    """What ``kubetune run`` reads trial metrics with; None for ``metrics.source: logs``."""
    source = spec.metrics.prometheus
    if spec.metrics.source != "prometheus" or source is None:
        return None
    client = PrometheusClient(prometheus_url(source, default_url), auth_from_environment(source))
    return PrometheusMetrics(spec, client)
