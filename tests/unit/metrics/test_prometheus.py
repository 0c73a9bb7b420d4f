"""The Prometheus client and metrics source: query templates, retries, auth, step mapping, and
when a finished trial's values are trusted (never on an outage, MetricsUnavailable after grace)."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs

import pytest
from kubetune.api import parse_tuningjob
from kubetune.api.status import TrialReason
from kubetune.api.validation import unknown_query_variables
from kubetune.controller.outcome import succeeded_outcome
from kubetune.metrics.logs import Observation
from kubetune.metrics.prometheus import (
    PrometheusAuth,
    PrometheusClient,
    PrometheusMetrics,
    PrometheusNotConfigured,
    PrometheusQueryError,
    PrometheusUnavailable,
    Sample,
    Series,
    TrialRef,
    prometheus_url,
    render_query,
    to_observations,
)
from kubetune.trials import TrialState

from tests.unit.manifests import manifest

VARIABLES = {
    "trial.name": 'gbm-"3"',
    "trial.number": "3",
    "trial.namespace": "ml",
    "trial.pod": "gbm-3-x7",
    "tuningjob": "gbm",
}


def test_render_query_substitutes_and_escapes_label_values() -> None:
    query = 'loss{trial="${trial.name}", pod="${trial.pod}", ns="${ trial.namespace }"}'
    assert render_query(query, VARIABLES) == 'loss{trial="gbm-\\"3\\"", pod="gbm-3-x7", ns="ml"}'
    assert render_query('a{b="${x}"}', {"x": "back\\slash\nline"}) == 'a{b="back\\\\slash\\nline"}'
    with pytest.raises(ValueError, match="unknown variable"):
        render_query("loss{x=${trial.nmae}}", VARIABLES)
    assert unknown_query_variables("${trial.name} ${params.x}") == ["params.x"]


def test_observations_by_step_label_or_by_second() -> None:
    labelled = [
        Series({"step": "1"}, (Sample(10.0, 0.5), Sample(11.0, 0.4))),
        Series({"step": "0"}, (Sample(9.0, 0.9),)),
    ]
    assert to_observations("loss", labelled, started_at=5.0) == [
        Observation("loss", 0, 0.9),
        Observation("loss", 1, 0.4),
    ]
    timed = [Series({}, (Sample(100.0, 3.0), Sample(102.0, 2.0), Sample(104.5, 1.0)))]
    assert to_observations("loss", timed, started_at=100.0) == [
        Observation("loss", 0, 3.0),
        Observation("loss", 2, 2.0),
        Observation("loss", 4, 1.0),
    ]
    assert to_observations("loss", [], started_at=0.0) == []


class FakePrometheus:
    """Answers queries from a script: a list of (status, body) per request."""

    def __init__(self) -> None:
        self.answers: list[tuple[int, Any]] = []
        self.requests: list[tuple[str, dict[str, list[str]], str | None]] = []
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"])).decode()
                fake.requests.append((self.path, parse_qs(body), self.headers["Authorization"]))
                status, answer = fake.answers.pop(0) if fake.answers else (200, ok([]))
                data = json.dumps(answer).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: Any) -> None:
                return None

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True).start()


def ok(result: list[Any], kind: str = "matrix") -> dict[str, Any]:
    return {"status": "success", "data": {"resultType": kind, "result": result}}


@pytest.fixture
def fake() -> Iterator[FakePrometheus]:
    server = FakePrometheus()
    yield server
    server.server.shutdown()
    server.server.server_close()


def client(fake: FakePrometheus, **options: Any) -> PrometheusClient:
    return PrometheusClient(fake.url, sleep=lambda _: None, **options)


def test_range_query_sends_parameters_and_the_bearer_token(fake: FakePrometheus) -> None:
    fake.answers = [(200, ok([{"metric": {"step": "2"}, "values": [[10, "0.5"], [11, "NaN"]]}]))]
    series = client(fake, auth=PrometheusAuth(bearer_token="s3cret")).query_range(
        "loss", 1.0, 20.0, 2.0
    )
    assert series[0].labels == {"step": "2"}
    assert series[0].samples[0] == Sample(10.0, 0.5)
    path, params, authorization = fake.requests[0]
    assert path == "/api/v1/query_range"
    assert params == {"query": ["loss"], "start": ["1.000"], "end": ["20.000"], "step": ["2.000"]}
    assert authorization == "Bearer s3cret"
    assert "s3cret" not in repr(PrometheusAuth(bearer_token="s3cret"))


def test_instant_query(fake: FakePrometheus) -> None:
    fake.answers = [(200, ok([{"metric": {}, "value": [5, "1.5"]}], "vector"))]
    (series,) = client(fake).query("up", at=5.0)
    assert series.samples == (Sample(5.0, 1.5),)
    assert fake.requests[0][0] == "/api/v1/query"


def test_server_errors_are_retried_with_backoff(fake: FakePrometheus) -> None:
    retried: list[int] = []
    waits: list[float] = []
    fake.answers = [(503, {}), (500, {}), (200, ok([]))]
    prometheus = PrometheusClient(
        fake.url, sleep=waits.append, on_retry=lambda: retried.append(1), retries=3
    )
    assert prometheus.query_range("loss", 0, 1, 1) == []
    assert len(fake.requests) == 3
    assert waits == [0.5, 1.0]
    assert len(retried) == 2


def test_unavailable_after_the_last_retry(fake: FakePrometheus) -> None:
    fake.answers = [(503, {})] * 3
    with pytest.raises(PrometheusUnavailable, match="503"):
        client(fake, retries=2).query_range("loss", 0, 1, 1)
    with pytest.raises(PrometheusUnavailable):
        PrometheusClient("http://127.0.0.1:9", retries=0, timeout=1).query("up")


def test_a_refused_query_is_not_retried(fake: FakePrometheus) -> None:
    fake.answers = [(400, {"status": "error", "error": "parse error at char 5"})]
    with pytest.raises(PrometheusQueryError, match="parse error"):
        client(fake).query_range("loss{", 0, 1, 1)
    assert len(fake.requests) == 1


class ScriptedClient(PrometheusClient):
    def __init__(self) -> None:
        super().__init__("http://prometheus.invalid")
        self.result: list[Series] | Exception = []
        self.calls = 0

    def query_range(self, promql: str, start: float, end: float, step: float) -> list[Series]:
        self.calls += 1
        if isinstance(self.result, Exception):
            raise self.result
        return self.result


def source(**prometheus: Any) -> tuple[PrometheusMetrics, ScriptedClient, list[float]]:
    document = manifest()
    document["spec"]["metrics"] = {
        "source": "prometheus",
        "prometheus": {
            "url": "http://prometheus:9090",
            "interval": "10s",
            "queries": [{"metric": "loss", "query": 'loss{trial="${trial.name}"}'}],
            **prometheus,
        },
    }
    scripted = ScriptedClient()
    now = [1000.0]
    metrics = PrometheusMetrics(parse_tuningjob(document).spec, scripted, clock=lambda: now[0])
    return metrics, scripted, now


TRIAL = TrialRef(0, "study-0", "ml", "study", "study-0-abc", started_at=900.0)
SERIES = [Series({"step": "0"}, (Sample(950.0, 0.7),))]


def test_running_values_are_queried_once_per_interval() -> None:
    metrics, scripted, now = source()
    scripted.result = SERIES
    first = metrics.running(TRIAL)
    assert first is not None
    assert first.latest("loss") == 0.7
    now[0] += 5
    metrics.running(TRIAL)
    assert scripted.calls == 1
    now[0] += 5
    metrics.running(TRIAL)
    assert scripted.calls == 2


def test_an_outage_keeps_a_finished_trial_waiting_and_says_why() -> None:
    metrics, scripted, now = source()
    scripted.result = PrometheusUnavailable("http://prometheus:9090 did not answer: 503")
    ended = now[0]
    now[0] += 11
    assert metrics.finished(TRIAL, ended) is None
    assert metrics.error is not None
    assert "503" in metrics.error
    now[0] += 1000  # far past the grace period: an outage still never fails the trial
    assert metrics.finished(TRIAL, ended) is None
    scripted.result = SERIES
    now[0] += 10
    final = metrics.finished(TRIAL, ended)
    assert final is not None
    assert final.latest("loss") == 0.7
    assert metrics.error is None


def test_final_values_wait_one_interval_then_a_missing_series_waits_for_grace() -> None:
    metrics, scripted, now = source()
    ended = now[0]
    assert metrics.finished(TRIAL, ended) is None  # the last scrape may be pending
    assert scripted.calls == 0
    now[0] += 10
    assert metrics.finished(TRIAL, ended) is None  # no series yet: within the grace period
    now[0] += 41
    final = metrics.finished(TRIAL, ended)  # 5 intervals: it never appeared
    assert final is not None
    assert final.count("loss") == 0


def test_prometheus_url_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("KUBETUNE_PROMETHEUS_URL", raising=False)
    metrics, _, _ = source()
    assert prometheus_url(metrics.source, None) == "http://prometheus:9090"
    bare = metrics.source.model_copy(update={"url": None})
    assert prometheus_url(bare, "http://default:9090") == "http://default:9090"
    with pytest.raises(PrometheusNotConfigured):
        prometheus_url(bare, None)
    monkeypatch.setenv("KUBETUNE_PROMETHEUS_URL", "http://from-env:9090")
    assert prometheus_url(bare, None) == "http://from-env:9090"


class PerMetricClient(ScriptedClient):
    """Answers each query by the metric its PromQL names."""

    def __init__(self, answers: dict[str, list[Series]]) -> None:
        super().__init__()
        self.answers = answers

    def query_range(self, promql: str, start: float, end: float, step: float) -> list[Series]:
        self.calls += 1
        return self.answers.get(promql.partition("{")[0], [])


def test_several_objectives_wait_for_each_then_a_missing_one_fails_the_trial() -> None:
    document = manifest()
    del document["spec"]["objective"]
    document["spec"]["objectives"] = [
        {"metric": "loss", "direction": "minimize"},
        {"metric": "latency", "direction": "minimize"},
    ]
    queries = [{"metric": m, "query": m + '{trial="${trial.name}"}'} for m in ("loss", "latency")]
    document["spec"]["metrics"] = {
        "source": "prometheus",
        "prometheus": {"url": "http://prometheus:9090", "interval": "10s", "queries": queries},
    }
    spec = parse_tuningjob(document).spec
    client = PerMetricClient({"loss": SERIES})
    now = [1000.0]
    metrics = PrometheusMetrics(spec, client, clock=lambda: now[0])
    ended = now[0]
    now[0] += 10
    assert metrics.finished(TRIAL, ended) is None  # latency may still arrive: within grace
    now[0] += 41
    final = metrics.finished(TRIAL, ended)
    assert final is not None
    outcome = succeeded_outcome(spec, final)
    assert (outcome.state, outcome.reason) == (TrialState.FAILED, TrialReason.METRICS_UNAVAILABLE)
    assert outcome.message == "the trial never reported metric 'latency'"
    client.answers["latency"] = [Series({"step": "0"}, (Sample(950.0, 12.0),))]
    metrics.forget(set())
    now[0] += 10
    final = metrics.finished(TRIAL, now[0] - 20)
    assert final is not None
    assert succeeded_outcome(spec, final).values == (0.7, 12.0)
