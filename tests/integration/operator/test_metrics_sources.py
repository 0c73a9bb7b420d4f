"""The operator with live metrics: early stopping while following trial pod logs and on values
read from a real Prometheus; metrics from that Prometheus fed by a real Pushgateway (through an
outage) or scraped from the trial pods' own /metrics (behind an authenticating TLS proxy, with
the token and CA from Secrets); and the operator's own /metrics (read directly and scraped by the
real Prometheus), Kubernetes API retries included."""

from __future__ import annotations

import secrets
import ssl
import threading
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import optuna
import pytest
from kubetune.runtime.kubernetes.journal import open_journal_storage
from optuna.trial import FrozenTrial
from optuna.trial import TrialState as OptunaState
from prometheus_client.parser import text_string_to_metric_families

from tests.integration.local.curves import curve_tuningjob, prometheus_metrics
from tests.prometheus_stack import PrometheusStack

from .harness import Cluster, OperatorProcess, eventually, tuningjob
from .prometheus_proxy import TEST_CA_PEM, ReverseProxy

REASON = "kubetune.reason"  # the trial user attribute a trial's reason is stored in


def curve_job(
    name: str,
    values: list[float],
    args: list[str],
    spec: dict[str, Any],
    parallel: int = 1,
) -> dict[str, Any]:
    return curve_tuningjob(name, values, args, parallel=parallel, namespace="default", spec=spec)


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


def study_trials(cluster: Cluster, name: str) -> dict[int, FrozenTrial]:
    """A TuningJob's trials as its study journal (the ConfigMaps) holds them: read-only."""
    uid = cluster.tuningjob(name)["metadata"]["uid"]
    storage = open_journal_storage(cluster.core, name, "default", uid)
    study = optuna.load_study(study_name=name, storage=storage)
    return {trial.number: trial for trial in study.get_trials(deepcopy=False)}


def trial_jobs_gone(cluster: Cluster, name: str, number: int) -> set[str] | None:
    names = {j["metadata"]["name"] for j in cluster.jobs(name)}
    return names if f"{name}-{number}" not in names else None


def test_median_rule_stops_a_bad_trial_from_its_live_log(
    cluster: Cluster, operator: OperatorProcess
) -> None:
    # the seeded grid runs x = 0.3, 0.2, 5.0, 0.1: 5.0 is far worse than the median
    manifest = curve_job(
        "live-median",
        [0.1, 0.2, 0.3, 0.4, 5.0, 6.0],
        ["--steps=12", "--seconds-per-step=0.2"],
        {"earlyStopping": {"algorithm": "median", "minTrials": 2, "startStep": 1}},
    )
    manifest["spec"]["limits"]["maxTrials"] = 4
    cluster.apply(manifest)

    complete = cluster.wait_condition("live-median", "Complete", timeout=90)
    status = cluster.tuningjob("live-median")["status"]
    assert complete["reason"] == "MaxTrialsReached", operator.log_tail()
    assert status["trials"] == {
        "active": 0,
        "queued": 0,
        "succeeded": 3,
        "failed": 0,
        "pruned": 1,
        "retried": 0,
        "total": 4,
    }
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


@pytest.fixture
def flaky(prometheus: PrometheusStack) -> Iterator[ReverseProxy]:
    """Prometheus behind a proxy that plays an outage while ``down`` is set."""
    proxy = ReverseProxy(prometheus.url)
    yield proxy
    proxy.close()


def test_prometheus_metrics_survive_an_outage(
    cluster: Cluster,
    operator: OperatorProcess,
    prometheus: PrometheusStack,
    prometheus_names: Callable[[str], str],
    flaky: ReverseProxy,
) -> None:
    name = prometheus_names("pushed")
    # Prometheus scrapes the operator too; discovery takes a few seconds, so start it now
    operator_target = f"127.0.0.1:{operator.port}"
    scraping = threading.Thread(
        target=prometheus.add_target, args=(name, operator_target, {"app": "kubetune"})
    )
    scraping.start()
    flaky.down.set()
    manifest = curve_job(
        name,
        [0.1, 0.5],
        ["--steps=3", "--seconds-per-step=1", f"--pushgateway={prometheus.pushgateway}"],
        {"metrics": prometheus_metrics(flaky.url)},
        parallel=2,
    )
    cluster.apply(manifest)

    unavailable = eventually(
        lambda: (
            (c := cluster.any_condition(name, "MetricsSourceAvailable"))
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
                for j in cluster.jobs(name)
            )
            and len(cluster.jobs(name)) == 2
        ),
        timeout=60,
        message="both trial Jobs to complete",
    )
    # the operator has asked about the finished trials since (twice), and been refused
    refused = flaky.refused
    eventually(
        lambda: flaky.refused >= refused + 2,
        timeout=30,
        message=lambda: f"two more refused queries (refused: {refused} -> {flaky.refused})",
    )
    status = cluster.tuningjob(name)["status"]
    assert status["trials"]["active"] == 2
    assert status["trials"]["succeeded"] == status["trials"]["failed"] == 0

    flaky.down.clear()
    cluster.wait_condition(name, "Complete", timeout=60)
    status = cluster.tuningjob(name)["status"]
    assert status["trials"] == {
        "active": 0,
        "queued": 0,
        "succeeded": 2,
        "failed": 0,
        "pruned": 0,
        "retried": 0,
        "total": 2,
    }
    assert status["bestTrial"]["objective"] == pytest.approx(0.1 + 1 / 3, abs=1e-12)
    available = cluster.any_condition(name, "MetricsSourceAvailable")
    assert available is not None
    assert available["status"] == "True"

    samples = scrape(operator)
    assert (sample(samples, "kubetune_api_retries_total", api="prometheus") or 0) > 0
    # the real Prometheus scraped the operator's /metrics as well
    scraping.join(timeout=30)
    found = prometheus.wait_for(
        f'kubetune_trials{{app="kubetune", tuningjob="{name}", state="succeeded"}} == 2',
        timeout=20,
    )
    assert found


def test_percentile_rule_stops_a_bad_trial_from_its_live_log(
    cluster: Cluster, operator: OperatorProcess
) -> None:
    # the seeded grid runs x = 0.3, 0.2, 5.0, 0.1; only 5.0 falls out of the best 25 percent
    name = "live-percentile"
    steps = 12
    manifest = curve_job(
        name,
        [0.1, 0.2, 0.3, 0.4, 5.0, 6.0],
        [f"--steps={steps}", "--seconds-per-step=0.2"],
        {
            "earlyStopping": {
                "algorithm": "percentile",
                "percentile": 25.0,
                "minTrials": 2,
                "startStep": 1,
            }
        },
    )
    manifest["spec"]["limits"]["maxTrials"] = 4
    cluster.apply(manifest)

    complete = cluster.wait_condition(name, "Complete", timeout=90)
    assert complete["reason"] == "MaxTrialsReached", operator.log_tail()
    status = cluster.tuningjob(name)["status"]
    assert status["trials"] == {
        "active": 0,
        "queued": 0,
        "succeeded": 3,
        "failed": 0,
        "pruned": 1,
        "retried": 0,
        "total": 4,
    }
    assert status["bestTrial"]["parameters"] == {"x": 0.1}
    trials = study_trials(cluster, name)
    bad = trials[2]
    assert bad.params == {"x": 5.0}
    assert bad.state is OptunaState.PRUNED
    assert bad.user_attrs[REASON] == "Pruned"
    assert 1 <= max(bad.intermediate_values) < steps - 1  # judged from startStep, stopped early
    for number in (0, 1, 3):
        assert trials[number].state is OptunaState.COMPLETE
        assert sorted(trials[number].intermediate_values) == list(range(steps))
    eventually(
        lambda: trial_jobs_gone(cluster, name, 2), timeout=30, message="the pruned Job to go"
    )


def test_kubernetes_api_retries_are_counted(cluster: Cluster, operator: OperatorProcess) -> None:
    name = "journal-retries"
    chunk = f"{name}-study-0000"
    before = scrape(operator)
    retried = sample(before, "kubetune_api_retries_total", api="kubernetes")
    assert retried is not None  # exported (at 0) before any retry
    journal_errors = sample(
        before, "kubetune_reconcile_errors_total", namespace="default", error="StudyJournalError"
    )
    # the journal's first append fails twice, then conflicts with a change it did not make
    cluster.sim.faults(verb="patch", resource="configmaps", name=chunk, status=503, count=2)
    cluster.sim.faults(verb="patch", resource="configmaps", name=chunk, status=409, count=1)
    cluster.apply(tuningjob(name, max_trials=2, parallel=2))

    cluster.wait_condition(name, "Complete", timeout=60)
    patches = cluster.sim.requests(verb="patch", resource="configmaps", name=chunk)
    assert [p["code"] for p in patches[:4]] == [503, 503, 409, 200], patches
    after = scrape(operator)
    # each retried request counted once; the step that made them did not fail
    assert (sample(after, "kubetune_api_retries_total", api="kubernetes") or 0) >= retried + 3
    assert (
        sample(
            after, "kubetune_reconcile_errors_total", namespace="default", error="StudyJournalError"
        )
        == journal_errors
    )


def test_median_rule_stops_a_bad_trial_from_prometheus_values(
    cluster: Cluster,
    operator: OperatorProcess,
    prometheus: PrometheusStack,
    prometheus_names: Callable[[str], str],
) -> None:
    # the seeded grid runs x = 0.3 and 0.2 first, then 5.0 (far worse than their median) and 0.1
    name = prometheus_names("prometheus-median")
    steps = 6
    manifest = curve_job(
        name,
        [0.1, 0.2, 0.3, 0.4, 5.0, 6.0],
        [f"--steps={steps}", "--seconds-per-step=1", f"--pushgateway={prometheus.pushgateway}"],
        {
            "earlyStopping": {"algorithm": "median", "minTrials": 2, "startStep": 1},
            "metrics": prometheus_metrics(prometheus.url),
        },
        parallel=2,
    )
    manifest["spec"]["limits"]["maxTrials"] = 4
    # a Prometheus just started takes a few seconds to scrape its first target: the steps the
    # rule compares must not be lost to that
    prometheus.wait_for('up{job="pushgateway"} == 1')
    cluster.apply(manifest)

    complete = cluster.wait_condition(name, "Complete", timeout=90)
    assert complete["reason"] == "MaxTrialsReached", operator.log_tail()
    status = cluster.tuningjob(name)["status"]
    assert status["trials"] == {
        "active": 0,
        "queued": 0,
        "succeeded": 3,
        "failed": 0,
        "pruned": 1,
        "retried": 0,
        "total": 4,
    }
    assert status["bestTrial"]["parameters"] == {"x": 0.1}
    assert status["bestTrial"]["objective"] == pytest.approx(0.1 + 1 / steps, abs=1e-12)
    trials = study_trials(cluster, name)
    bad = trials[2]
    assert bad.params == {"x": 5.0}
    assert bad.state is OptunaState.PRUNED
    assert bad.user_attrs[REASON] == "Pruned"
    # judged on what Prometheus holds (the log says only "reported step N"), while it ran
    last = max(bad.intermediate_values)
    assert 1 <= last < steps - 1, bad.intermediate_values
    assert bad.value == pytest.approx(5.0 + 1 / (last + 1), abs=1e-12)
    for number in (0, 1, 3):
        assert trials[number].state is OptunaState.COMPLETE
    eventually(
        lambda: trial_jobs_gone(cluster, name, 2), timeout=30, message="the pruned Job to go"
    )


@pytest.fixture
def secured(prometheus: PrometheusStack) -> Iterator[ReverseProxy]:
    """Prometheus behind a TLS proxy that wants a bearer token."""
    proxy = ReverseProxy(prometheus.url, token=secrets.token_urlsafe(24), tls=True)
    yield proxy
    proxy.close()


def test_scraped_metrics_through_an_authenticating_proxy(
    cluster: Cluster,
    operator: OperatorProcess,
    prometheus: PrometheusStack,
    prometheus_names: Callable[[str], str],
    secured: ReverseProxy,
    tmp_path: Path,
) -> None:
    name = prometheus_names("scraped-pods")
    assert secured.token is not None
    gates = tmp_path / "gates"
    gates.mkdir()
    # the credentials, as an administrator would store them
    ca_file = tmp_path / "ca.crt"
    ca_file.write_text(TEST_CA_PEM)
    cluster.kubectl(
        "create", "secret", "generic", "prometheus-token", f"--from-literal=token={secured.token}"
    )
    cluster.kubectl("create", "secret", "generic", "prometheus-ca", f"--from-file=ca.crt={ca_file}")
    query = (
        'trial_loss{namespace="${trial.namespace}", kubetune_io_tuningjob="${tuningjob}", '
        'kubetune_io_trial="${trial.number}"}'
    )
    manifest = curve_job(
        name,
        [0.25, 0.5],
        # each trial pod serves /metrics; the test has Prometheus scrape it and holds it until
        # Prometheus did, before its first step and before it exits (scrape_gated_trial)
        ["--serve", f"--gate-dir={gates}", "--steps=4", "--seconds-per-step=1"],
        {
            "metrics": prometheus_metrics(
                secured.url,
                query,
                bearerTokenSecret={"name": "prometheus-token", "key": "token"},
                caSecret={"name": "prometheus-ca", "key": "ca.crt"},
            ),
            # intermediate values are journaled for early stopping only: a rule that never
            # stops a trial here (it would need 1,000 trials) keeps the curve for the checks
            "earlyStopping": {"algorithm": "median", "minTrials": 1000},
        },
        parallel=2,
    )
    # Prometheus scrapes each trial pod's /metrics with the target labels a PodMonitor's
    # podTargetLabels (kubetune.io/tuningjob, kubetune.io/trial) would give it. On a cluster it
    # would discover the pods; kubesim's pods are processes on one host, each on its own port.
    targets = {
        f"{name}-{number}": {
            "namespace": "default",
            "kubetune_io_tuningjob": name,
            "kubetune_io_trial": str(number),
        }
        for number in range(2)
    }
    with ThreadPoolExecutor(len(targets)) as pool:
        scraped = [
            pool.submit(prometheus.scrape_gated_trial, gates, target, labels)
            for target, labels in targets.items()
        ]
        cluster.apply(manifest)
        for future in scraped:
            future.result()
    complete = cluster.wait_condition(name, "Complete", timeout=60)
    assert complete["reason"] == "MaxTrialsReached", operator.log_tail()
    status = cluster.tuningjob(name)["status"]
    assert status["trials"] == {
        "active": 0,
        "queued": 0,
        "succeeded": 2,
        "failed": 0,
        "pruned": 0,
        "retried": 0,
        "total": 2,
    }
    assert status["bestTrial"]["parameters"] == {"x": 0.25}
    assert status["bestTrial"]["objective"] == pytest.approx(0.25 + 1 / 4, abs=1e-12)
    available = cluster.any_condition(name, "MetricsSourceAvailable")
    assert available is not None
    assert available["status"] == "True"
    for number, trial in study_trials(cluster, name).items():
        x = trial.params["x"]
        assert trial.value == pytest.approx(x + 1 / 4, abs=1e-12)
        # steps are seconds since the trial started: the curve is seen decreasing over time
        values = [trial.intermediate_values[step] for step in sorted(trial.intermediate_values)]
        assert len(values) >= 3, (number, trial.intermediate_values)
        assert values == sorted(values, reverse=True)
        assert values[0] > values[-1]

    # every query carried the token from the Secret, over TLS checked with the CA from the other
    read = {r["name"] for r in cluster.sim.requests(verb="get", resource="secrets")}
    assert {"prometheus-token", "prometheus-ca"} <= read
    assert secured.forwarded > 0
    assert secured.refused == 0
    context = ssl.create_default_context(cadata=TEST_CA_PEM)
    with pytest.raises(urllib.error.HTTPError) as refused:  # the proxy does check
        urllib.request.urlopen(f"{secured.url}/api/v1/query?query=up", timeout=5, context=context)
    assert refused.value.code == 401


def test_a_series_that_never_appears_fails_the_trial(
    cluster: Cluster,
    operator: OperatorProcess,
    prometheus: PrometheusStack,
    prometheus_names: Callable[[str], str],
) -> None:
    name = prometheus_names("never-reported")
    manifest = curve_job(
        name,
        [0.1],
        ["--steps=0", f"--pushgateway={prometheus.pushgateway}"],  # pushes nothing
        {"metrics": prometheus_metrics(prometheus.url)},
    )
    cluster.apply(manifest)

    status = eventually(
        lambda: (
            (status := cluster.tuningjob(name).get("status") or {})
            and (status.get("trials") or {}).get("failed") == 1
            and status
        ),
        timeout=60,
        message="the trial to fail",
    )
    assert status["trials"]["succeeded"] == status["trials"]["pruned"] == 0
    (trial,) = study_trials(cluster, name).values()
    assert trial.state is OptunaState.FAIL
    assert trial.user_attrs[REASON] == "MetricsUnavailable"
    # the trial itself succeeded; its series was waited for 5 intervals, then given up on
    (job,) = cluster.jobs(name)
    assert any(c["type"] == "Complete" for c in job["status"]["conditions"])
    ended = datetime.fromisoformat(job["status"]["completionTime"].replace("Z", "+00:00"))
    assert trial.datetime_complete is not None
    waited = trial.datetime_complete.astimezone(UTC) - ended
    assert waited.total_seconds() >= 5 * 1 - 1.5  # completionTime has second precision
    # Prometheus answered all along: this is not an outage
    available = cluster.any_condition(name, "MetricsSourceAvailable")
    assert available is not None
    assert available["status"] == "True"
