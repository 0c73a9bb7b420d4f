"""``kubetune run`` with ``metrics.source: prometheus``, against a real Prometheus server and
Pushgateway: real trial processes push their metrics or expose ``/metrics``, Prometheus scrapes
them, and the local runner reads them back through the HTTP API."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from kubetune.api import load_tuningjobs
from kubetune.api.status import TrialReason
from kubetune.controller.model import TrialState
from kubetune.runtime.runner import RunPaths, RunReport, run_local

from tests.prometheus_stack import PrometheusStack, free_port, prometheus

__all__ = ["prometheus"]

CURVE_TRIAL = Path(__file__).with_name("curve_trial.py")


def prometheus_manifest(
    name: str,
    stack: PrometheusStack,
    query: str,
    values: list[float],
    args: list[str],
    parallel: int = 3,
) -> dict[str, Any]:
    return {
        "apiVersion": "kubetune.io/v1alpha1",
        "kind": "TuningJob",
        "metadata": {"name": name},
        "spec": {
            "objective": {"metric": "loss", "direction": "minimize"},
            "parameters": [{"name": "x", "type": "categorical", "values": values}],
            "strategy": {"algorithm": "grid", "seed": 1},
            "limits": {"maxTrials": len(values), "parallelTrials": parallel},
            "metrics": {
                "source": "prometheus",
                "prometheus": {
                    "url": stack.url,
                    "interval": "1s",
                    "queries": [{"metric": "loss", "query": query}],
                },
            },
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
        },
    }


def run(tmp_path: Path, manifest: dict[str, Any]) -> RunReport:
    path = tmp_path / "job.yaml"
    path.write_text(yaml.safe_dump(manifest))
    (job,) = load_tuningjobs(path)
    return run_local(job, base_dir=tmp_path, paths=RunPaths.for_job(job, tmp_path / "runs", None))


def test_pushed_metrics_are_read_back_per_step(prometheus: PrometheusStack, tmp_path: Path) -> None:
    manifest = prometheus_manifest(
        "pushed",
        prometheus,
        'trial_loss{job="kubetune", trial="${trial.name}"}',
        [0.1, 0.5, 0.9],
        ["--steps=4", "--seconds-per-step=1.1", f"--pushgateway={prometheus.pushgateway}"],
    )
    report = run(tmp_path, manifest)

    assert report.completion is not None
    assert report.completion.type.value == "Complete", report.trials
    assert len(report.trials) == 3
    for trial in report.trials:
        assert trial.state is TrialState.COMPLETE, trial
        # the last pushed value, at full precision (the log only says "reported step N")
        assert trial.objective == pytest.approx(float(trial.params["x"]) + 1 / 4, abs=1e-12)
        assert max(trial.intermediate) == 3  # steps come from the step label
        assert all(
            value == pytest.approx(float(trial.params["x"]) + 1 / (step + 1), abs=1e-12)
            for step, value in trial.intermediate.items()
        )


def test_scraped_metrics_are_read_back_per_second(
    prometheus: PrometheusStack, tmp_path: Path
) -> None:
    port = free_port()
    prometheus.add_target("scraped", f"127.0.0.1:{port}", {"kubetune_trial": "scraped-0"})
    manifest = prometheus_manifest(
        "scraped",
        prometheus,
        'trial_loss{kubetune_trial="${trial.name}"}',
        [0.25],
        ["--steps=4", "--seconds-per-step=1", f"--serve-port={port}", "--linger=2.5"],
        parallel=1,
    )
    report = run(tmp_path, manifest)

    (trial,) = report.trials
    assert trial.state is TrialState.COMPLETE, trial
    assert trial.objective == pytest.approx(0.25 + 1 / 4, abs=1e-12)
    # steps are seconds since the trial started: the curve is seen decreasing over time
    steps = sorted(trial.intermediate)
    assert len(steps) >= 3
    values = [trial.intermediate[s] for s in steps]
    assert values == sorted(values, reverse=True)
    assert values[0] > values[-1]


def test_a_series_that_never_appears_is_metrics_unavailable(
    prometheus: PrometheusStack, tmp_path: Path
) -> None:
    manifest = prometheus_manifest(
        "silent",
        prometheus,
        'trial_loss{job="kubetune", trial="${trial.name}"}',
        [0.1],
        ["--steps=0", f"--pushgateway={prometheus.pushgateway}"],
        parallel=1,
    )
    report = run(tmp_path, manifest)

    (trial,) = report.trials
    assert trial.state is TrialState.FAILED
    assert trial.reason == TrialReason.METRICS_UNAVAILABLE
