"""The operator with live metrics: early stopping while following trial pod logs, metrics from a
real Prometheus (fed by a real Pushgateway) through an outage, and the operator's own /metrics
(read directly and scraped by the real Prometheus)."""

from __future__ import annotations

import threading
import time
import urllib.request
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.prometheus_stack import PrometheusStack, free_port, prometheus

from .harness import Cluster, OperatorProcess, eventually

__all__ = ["prometheus"]

CURVE_TRIAL = Path(__file__).resolve().parents[1] / "local" / "curve_trial.py"


def curve_job(
    name: str, values: list[float], args: list[str], spec: dict[str, Any], parallel: int = 1
) -> dict[str, Any]:
    return {
        "apiVersion": "kubetune.io/v1alpha1",
        "kind": "TuningJob",
        "metadata": {"name": name, "namespace": "default"},
        "spec": {
            "objective": {"metric": "loss", "direction": "minimize"},
            "parameters": [{"name": "x", "type": "categorical", "values": values}],
            "strategy": {"algorithm": "grid", "seed": 1},
            "limits": {"maxTrials": len(values), "parallelTrials": parallel},
            "trialTemplate": {
                "spec": {
                    "template": {
                        "spec": {
                            "containers": [
                                {
                                    "name": "train",
                                    "image": "example.com/curve:1",
                                    "command": [
                                        "python",
                                        str(CURVE_TRIAL),
                                        "--x=${params.x}",
                                        *args,
                                    ],
                                }
                            ]
                        }
                    }
                }
            },
            **spec,
        },
    }


def scrape(operator: OperatorProcess) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    with urllib.request.urlopen(f"http://127.0.0.1:{operator.port}/metrics", timeout=5) as r:
        assert r.headers["Content-Type"].startswith("text/plain")
        text = r.read().decode()
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def sample(
    samples: dict[tuple[str, tuple[tuple[str, str], ...]], float], name: str, **labels: str
) -> float | None:
    return samples.get((name, tuple(sorted(labels.items()))))


def test_median_rule_stops_a_bad_trial_from_its_live_log(
    cluster: Cluster, operator: OperatorProcess
) -> None:
    # the seeded grid runs x = 0.3, 0.2, 5.0, 0.1: 5.0 is far worse than the median
    manifest = curve_job(
        "live-median",
        [0.1, 0.2, 0.3, 5.0],
        ["--steps=12", "--seconds-per-step=0.2"],
        {"earlyStopping": {"algorithm": "median", "minTrials": 2, "startStep": 1}},
    )
    manifest["spec"]["parameters"][0]["values"] = [0.1, 0.2, 0.3, 0.4, 5.0, 6.0]
    manifest["spec"]["limits"]["maxTrials"] = 4
    cluster.apply(manifest)

    complete = cluster.wait_condition("live-median", "Complete", timeout=90)
    status = cluster.tuningjob("live-median")["status"]
    assert complete["reason"] == "MaxTrialsReached", operator.log_tail()
    assert status["trials"] == {"active": 0, "succeeded": 3, "failed": 0, "pruned": 1, "total": 4}
    assert status["bestTrial"]["parameters"] == {"x": 0.1}
    # the pruned trial's Job was deleted (its pod killed); the others stay
    names = eventually(
        lambda: (
            names
            if "live-median-2"
            not in (names := {j["metadata"]["name"] for j in cluster.jobs("live-median")})
            else None
        ),
        timeout=30,
        message="the pruned trial's Job to go",
    )
    assert names == {"live-median-0", "live-median-1", "live-median-3"}

    samples = scrape(operator)
    labels = {"namespace": "default", "tuningjob": "live-median"}
    assert sample(samples, "kubetune_trials", state="pruned", **labels) == 1
    assert sample(samples, "kubetune_trials", state="succeeded", **labels) == 3
    assert sample(samples, "kubetune_best_objective", **labels) == pytest.approx(
        0.1 + 1 / 12, abs=1e-6
    )
    assert (
        sample(samples, "kubetune_suggestion_duration_seconds_count", namespace="default") or 0
    ) >= 4
    pruned = sample(
        samples, "kubetune_trial_duration_seconds_count", namespace="default", state="Pruned"
    )
    assert (pruned or 0) >= 1
    assert (
        sample(samples, "kubetune_reconcile_duration_seconds_count", namespace="default") or 0
    ) > 0

    # a deleted TuningJob's series go away
    cluster.kubectl("delete", "tuningjob", "live-median", "--wait=true", "--timeout=60s")
    eventually(
        lambda: sample(scrape(operator), "kubetune_trials", state="pruned", **labels) is None,
        timeout=30,
        message="the series of a deleted TuningJob to go",
    )


class FlakyProxy:
    """Forwards Prometheus API requests, or answers 503 while ``down``."""

    def __init__(self, upstream: str) -> None:
        self.down = threading.Event()
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length)
                if proxy.down.is_set():
                    self.send_response(503)
                    self.end_headers()
                    self.wfile.write(b"down for maintenance")
                    return
                request = urllib.request.Request(
                    upstream + self.path, body, {"Content-Type": self.headers["Content-Type"]}
                )
                with urllib.request.urlopen(request, timeout=10) as response:
                    data = response.read()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: Any) -> None:
                return None

        self.server = ThreadingHTTPServer(("127.0.0.1", free_port()), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def flaky(prometheus: PrometheusStack) -> Iterator[FlakyProxy]:
    proxy = FlakyProxy(prometheus.url)
    yield proxy
    proxy.close()


def condition(cluster: Cluster, name: str, type_: str) -> dict[str, Any] | None:
    status = cluster.tuningjob(name).get("status") or {}
    return next((c for c in status.get("conditions") or [] if c["type"] == type_), None)


def test_prometheus_metrics_survive_an_outage(
    cluster: Cluster, operator: OperatorProcess, prometheus: PrometheusStack, flaky: FlakyProxy
) -> None:
    # Prometheus scrapes the operator too; discovery takes a few seconds, so start it now
    operator_target = f"127.0.0.1:{operator.port}"
    scraping = threading.Thread(
        target=prometheus.add_target, args=("operator", operator_target, {"app": "kubetune"})
    )
    scraping.start()
    flaky.down.set()
    manifest = curve_job(
        "pushed",
        [0.1, 0.5],
        ["--steps=3", "--seconds-per-step=1", f"--pushgateway={prometheus.pushgateway}"],
        {
            "metrics": {
                "source": "prometheus",
                "prometheus": {
                    "url": flaky.url,
                    "interval": "1s",
                    "queries": [{"metric": "loss", "query": 'trial_loss{trial="${trial.name}"}'}],
                },
            }
        },
        parallel=2,
    )
    cluster.apply(manifest)

    unavailable = eventually(
        lambda: (
            (c := condition(cluster, "pushed", "MetricsSourceAvailable"))
            and c["status"] == "False"
            and c
        ),
        timeout=60,
        message="MetricsSourceAvailable=False",
    )
    assert unavailable["reason"] == "PrometheusUnavailable"
    assert "503" in unavailable["message"]
    # both trial Jobs finish, yet nothing is recorded while Prometheus cannot be asked
    eventually(
        lambda: (
            all(
                any(
                    c["type"] == "Complete" for c in (j.get("status") or {}).get("conditions") or []
                )
                for j in cluster.jobs("pushed")
            )
            and len(cluster.jobs("pushed")) == 2
        ),
        timeout=60,
        message="both trial Jobs to complete",
    )
    time.sleep(2)
    status = cluster.tuningjob("pushed")["status"]
    assert status["trials"]["active"] == 2
    assert status["trials"]["succeeded"] == status["trials"]["failed"] == 0

    flaky.down.clear()
    cluster.wait_condition("pushed", "Complete", timeout=60)
    status = cluster.tuningjob("pushed")["status"]
    assert status["trials"] == {"active": 0, "succeeded": 2, "failed": 0, "pruned": 0, "total": 2}
    assert status["bestTrial"]["objective"] == pytest.approx(0.1 + 1 / 3, abs=1e-12)
    available = condition(cluster, "pushed", "MetricsSourceAvailable")
    assert available is not None
    assert available["status"] == "True"

    samples = scrape(operator)
    assert (sample(samples, "kubetune_api_retries_total", api="prometheus") or 0) > 0
    # the real Prometheus scraped the operator's /metrics as well
    scraping.join(timeout=30)
    found = prometheus.wait_for(
        'kubetune_trials{app="kubetune", tuningjob="pushed", state="succeeded"} == 2', timeout=20
    )
    assert found
