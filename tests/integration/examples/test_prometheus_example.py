"""examples/prometheus-metrics.yaml end to end: its trials push their metric to a real
Pushgateway, a real Prometheus scrapes it, and the operator scores each trial with the
example's PromQL. The manifest's URL is dropped so the operator's default applies, the one the
chart sets from ``prometheus.url`` (``--prometheus-url`` / ``KUBETUNE_PROMETHEUS_URL``)."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from tests.integration.operator.harness import Cluster, OperatorProcess
from tests.prometheus_stack import PrometheusStack

from .test_examples import load


@pytest.fixture(scope="module")
def operator(
    cluster: Cluster,
    prometheus: PrometheusStack,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[OperatorProcess]:
    process = OperatorProcess(
        cluster.sim, tmp_path_factory.mktemp("operator"), "--prometheus-url", prometheus.url
    ).start()
    yield process
    process.stop()


def test_prometheus_example_completes_with_the_default_prometheus(
    cluster: Cluster,
    operator: OperatorProcess,
    prometheus: PrometheusStack,
    prometheus_names: Callable[[str], str],
) -> None:
    manifest = load("prometheus-metrics.yaml", {"maxTrials": 2, "parallelTrials": 2})
    # its trials' series in the session's Prometheus are named after it: unique
    name = manifest["metadata"]["name"] = prometheus_names(manifest["metadata"]["name"])
    del manifest["spec"]["metrics"]["prometheus"]["url"]
    container = manifest["spec"]["trialTemplate"]["spec"]["template"]["spec"]["containers"][0]
    container["env"] = [{"name": "PUSHGATEWAY_URL", "value": f"http://{prometheus.pushgateway}"}]
    cluster.apply(manifest)
    result = cluster.kubectl(
        "wait", "--for=condition=Complete", f"tj/{name}", "--timeout=150s", check=False
    )
    status = cluster.tuningjob(name)["status"]
    assert result.returncode == 0, f"{status}\n{operator.log_tail()}"
    assert status["trials"]["succeeded"] == 2, status
    best = status["bestTrial"]
    pushed = prometheus.query(f'kubetune_trial_validation_rmse{{trial="{best["name"]}"}}')
    assert float(pushed[0]["value"][1]) == pytest.approx(best["objective"], rel=1e-6)
