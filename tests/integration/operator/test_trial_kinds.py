"""Trials of other workload kinds: a Kubeflow PyTorchJob and a JobSet, run by stand-ins for
their operators, end through their success condition; metrics from the primary pod.

The operator gets ``KUBETUNE_TRIAL_KINDS`` as the chart sets it from ``trialKinds`` and runs
under the chart's RBAC rendered with that value (the emulator enforces it), and every request it
makes must be allowed by that chart (and nothing more).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.integration.chart.support import unpermitted_operator_calls
from tests.kubesim.harness import KubeSim

from .harness import CRD, Cluster, OperatorProcess, tuningjob
from .workload_operators import WorkloadOperators

TRIAL_KINDS = [
    {"apiVersion": "kubeflow.org/v1", "kind": "PyTorchJob"},
    {"apiVersion": "jobset.x-k8s.io/v1alpha2", "kind": "JobSet"},
]


@pytest.fixture(scope="module")
def sim(
    tmp_path_factory: pytest.TempPathFactory, kube_binaries: dict[str, Path]
) -> Iterator[KubeSim]:
    with KubeSim(controllers=True, work_dir=tmp_path_factory.mktemp("kubesim")) as emulator:
        yield emulator
        missing = unpermitted_operator_calls(
            kube_binaries["helm"], emulator.requests(), {"trialKinds": TRIAL_KINDS}
        )
        assert not missing, "the chart's trialKinds RBAC misses:\n" + "\n".join(map(str, missing))


@pytest.fixture(scope="module")
def cluster(sim: KubeSim, kube_binaries: dict[str, Path]) -> Iterator[Cluster]:
    cluster = Cluster(sim, kube_binaries["kubectl"])
    cluster.kubectl("apply", "-f", str(CRD))
    cluster.kubectl(
        "wait", "--for=condition=Established", "crd/tuningjobs.kubetune.io", "--timeout=30s"
    )
    # The operator runs under the chart's RBAC rendered with trialKinds: exactly these kinds.
    cluster.install_operator_rbac(kube_binaries["helm"], {"trialKinds": TRIAL_KINDS})
    with WorkloadOperators(cluster).running():
        yield cluster


@pytest.fixture(scope="module")
def operator(
    cluster: Cluster, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[OperatorProcess]:
    kinds = ",".join(f"{k['apiVersion']}/{k['kind']}" for k in TRIAL_KINDS)
    process = OperatorProcess(
        cluster.sim, tmp_path_factory.mktemp("operator"), env={"KUBETUNE_TRIAL_KINDS": kinds}
    ).start()
    yield process
    process.stop()


def _container(manifest: dict[str, Any]) -> dict[str, Any]:
    pod = manifest["spec"]["trialTemplate"]["spec"]["template"]
    container: dict[str, Any] = pod["spec"]["containers"][0]
    return container


def _expected(best: dict[str, Any]) -> float:
    params = best["parameters"]
    return float((params["x"] - 0.3) ** 2 + 0.01 * params["layers"])


def test_pytorchjob_trials_complete_through_their_success_condition(
    cluster: Cluster, operator: OperatorProcess
) -> None:
    manifest = tuningjob("torch", mode="ranks", max_trials=2, parallel=2)
    train = _container(manifest)
    replica = {
        "replicas": 1,
        "restartPolicy": "Never",
        "template": {"spec": {"containers": [train]}},
    }
    # Workers see RANK > 0 only through their env; the ranks mode reads JOB_COMPLETION_INDEX,
    # so each worker says it is index 1 and prints a better loss the trial must not take.
    worker_container = {**train, "env": [{"name": "JOB_COMPLETION_INDEX", "value": "1"}]}
    worker = {**replica, "replicas": 2, "template": {"spec": {"containers": [worker_container]}}}
    manifest["spec"]["trialTemplate"] = {
        "apiVersion": "kubeflow.org/v1",
        "kind": "PyTorchJob",
        "successCondition": "Succeeded",
        "failureCondition": "Failed",
        "primaryPod": {"labels": {"training.kubeflow.org/replica-type": "master"}},
        "spec": {"pytorchReplicaSpecs": {"Master": replica, "Worker": worker}},
    }
    cluster.apply(manifest)
    complete = cluster.wait_condition("torch", "Complete", timeout=90)
    assert complete["reason"] == "MaxTrialsReached"
    status = cluster.tuningjob("torch")["status"]
    assert (status["trials"]["succeeded"], status["trials"]["failed"]) == (2, 0)
    assert status["bestTrial"]["objective"] == pytest.approx(
        _expected(status["bestTrial"]), abs=1e-5
    )
    jobs = cluster.custom.list_namespaced_custom_object(
        "kubeflow.org", "v1", "default", "pytorchjobs", label_selector="kubetune.io/tuningjob=torch"
    )["items"]
    assert sorted(j["metadata"]["name"] for j in jobs) == ["torch-0", "torch-1"]
    for job in jobs:
        assert job["metadata"]["ownerReferences"][0]["kind"] == "TuningJob"
        types = {c["type"] for c in job["status"]["conditions"]}
        assert "Succeeded" in types
    assert not cluster.jobs("torch")  # no batch/v1 Job was made for these trials


def test_jobset_trial_completes_and_reads_the_leader(
    cluster: Cluster, operator: OperatorProcess
) -> None:
    manifest = tuningjob("jobset", mode="ranks", max_trials=1, parallel=1)
    train = _container(manifest)
    follower = {**train, "env": [{"name": "JOB_COMPLETION_INDEX", "value": "1"}]}

    def replicated(name: str, container: dict[str, Any]) -> dict[str, Any]:
        pod = {"spec": {"restartPolicy": "Never", "containers": [container]}}
        return {
            "name": name,
            "replicas": 1,
            "template": {"spec": {"backoffLimit": 0, "template": pod}},
        }

    manifest["spec"]["trialTemplate"] = {
        "apiVersion": "jobset.x-k8s.io/v1alpha2",
        "kind": "JobSet",
        "successCondition": "Completed",
        "primaryPod": {"labels": {"jobset.sigs.k8s.io/replicatedjob-name": "leader"}},
        "spec": {"replicatedJobs": [replicated("leader", train), replicated("workers", follower)]},
    }
    cluster.apply(manifest)
    cluster.wait_condition("jobset", "Complete", timeout=90)
    status = cluster.tuningjob("jobset")["status"]
    assert status["trials"]["succeeded"] == 1
    assert status["bestTrial"]["objective"] == pytest.approx(
        _expected(status["bestTrial"]), abs=1e-5
    )
