"""``kubetune run`` with ``metrics.source: prometheus``, against a real Prometheus server and
Pushgateway: real trial processes push their metrics or expose ``/metrics``, Prometheus scrapes
them, and the local runner reads them back through the HTTP API."""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
import yaml
from kubetune.api import load_tuningjobs
from kubetune.api.status import TrialReason
from kubetune.runtime.runner import RunPaths, RunReport, run_local
from kubetune.trials import TrialState

from tests.integration.local.curves import curve_tuningjob, prometheus_metrics
from tests.prometheus_stack import PrometheusStack


def prometheus_manifest(
    name: str,
    stack: PrometheusStack,
    query: str,
    values: list[float],
    args: list[str],
    parallel: int = 3,
) -> dict[str, Any]:
    metrics = prometheus_metrics(stack.url, query)
    # Intermediate values are journaled for early stopping only: a rule that never stops a
    # trial here (it would need 1,000 trials) keeps them for the checks below.
    never = {"algorithm": "median", "minTrials": 1000}
    spec = {"metrics": metrics, "earlyStopping": never}
    return curve_tuningjob(name, values, args, parallel=parallel, spec=spec)


def run(tmp_path: Path, manifest: dict[str, Any]) -> RunReport:
    path = tmp_path / "job.yaml"
    path.write_text(yaml.safe_dump(manifest))
    (job,) = load_tuningjobs(path)
    return run_local(job, base_dir=tmp_path, paths=RunPaths.for_job(job, tmp_path / "runs", None))


def test_pushed_metrics_are_read_back_per_step(
    prometheus: PrometheusStack, prometheus_names: Callable[[str], str], tmp_path: Path
) -> None:
    manifest = prometheus_manifest(
        prometheus_names("pushed-steps"),
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


def test_median_rule_stops_a_bad_trial_from_its_pushed_values(
    prometheus: PrometheusStack, prometheus_names: Callable[[str], str], tmp_path: Path
) -> None:
    steps = 6
    name = prometheus_names("pushed-median")
    # the seeded grid runs x = 0.3 and 0.2 first, then 5.0 (far worse than their median) and 0.1
    manifest = prometheus_manifest(
        name,
        prometheus,
        'trial_loss{job="kubetune", trial="${trial.name}"}',
        [0.1, 0.2, 0.3, 0.4, 5.0, 6.0],
        [f"--steps={steps}", "--seconds-per-step=1", f"--pushgateway={prometheus.pushgateway}"],
        parallel=2,
    )
    manifest["spec"]["limits"]["maxTrials"] = 4
    manifest["spec"]["earlyStopping"] = {"algorithm": "median", "minTrials": 2, "startStep": 1}
    # a Prometheus just started takes a few seconds to scrape its first target: the steps the
    # rule compares must not be lost to that
    prometheus.wait_for('up{job="pushgateway"} == 1')
    report = run(tmp_path, manifest)

    assert report.completion is not None
    assert report.completion.type.value == "Complete", report.trials
    by_x = {float(t.params["x"]): t for t in report.trials}
    assert sorted(by_x) == [0.1, 0.2, 0.3, 5.0]
    bad = by_x[5.0]
    assert bad.state is TrialState.PRUNED, bad
    assert bad.reason == TrialReason.PRUNED
    # judged on the values Prometheus holds (the log has none) and stopped while it ran
    last = max(bad.intermediate)
    assert 1 <= last < steps - 1, bad.intermediate
    assert bad.objective == pytest.approx(5.0 + 1 / (last + 1), abs=1e-12)
    log = report.paths.logs / f"{name}-{bad.number}.log"
    assert log.read_text().count("reported step") < steps  # its process was killed early
    for x in (0.3, 0.2, 0.1):
        good = by_x[x]
        assert good.state is TrialState.COMPLETE, good
        assert good.objective == pytest.approx(x + 1 / steps, abs=1e-12)
    assert min(report.trials, key=lambda t: t.objective or 99).params["x"] == 0.1


def test_scraped_metrics_are_read_back_per_second(
    prometheus: PrometheusStack, prometheus_names: Callable[[str], str], tmp_path: Path
) -> None:
    name = prometheus_names("scraped")
    trial_name = f"{name}-0"
    gates = tmp_path / "gates"
    gates.mkdir()
    manifest = prometheus_manifest(
        name,
        prometheus,
        'trial_loss{kubetune_trial="${trial.name}"}',
        [0.25],
        # the trial serves /metrics; the test has Prometheus scrape it and holds it until
        # Prometheus did, before its first step and before it exits (scrape_gated_trial)
        ["--serve", f"--gate-dir={gates}", "--steps=4", "--seconds-per-step=1"],
        parallel=1,
    )
    with ThreadPoolExecutor(1) as pool:
        scraped = pool.submit(
            prometheus.scrape_gated_trial, gates, trial_name, {"kubetune_trial": trial_name}
        )
        report = run(tmp_path, manifest)
        scraped.result()

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
    prometheus: PrometheusStack, prometheus_names: Callable[[str], str], tmp_path: Path
) -> None:
    manifest = prometheus_manifest(
        prometheus_names("silent"),
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
