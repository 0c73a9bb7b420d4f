"""A TuningJob applied with kubectl runs to completion on the emulated cluster."""

from __future__ import annotations

from typing import Any

import pytest

from .harness import Cluster, OperatorProcess, eventually, tuningjob

GPU_PRODUCT = "NVIDIA-A100-SXM4-80GB"
GPU_POD = {
    "nodeSelector": {"nvidia.com/gpu.product": GPU_PRODUCT},
    "tolerations": [{"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}],
}
GPU_LIMITS = {"resources": {"limits": {"nvidia.com/gpu": 1, "memory": "1Gi"}}}


def test_tuningjob_completes_with_best_trial(cluster: Cluster, operator: OperatorProcess) -> None:
    manifest = tuningjob(
        "gpu-study", max_trials=5, parallel=2, pod_spec=GPU_POD, container=GPU_LIMITS
    )
    cluster.apply(manifest)

    result = cluster.kubectl(
        "wait", "--for=condition=Complete", "tuningjob/gpu-study", "--timeout=120s", check=False
    )
    assert result.returncode == 0, f"{result.stderr}\n{operator.log_tail()}"

    status: dict[str, Any] = cluster.tuningjob("gpu-study")["status"]
    complete = next(c for c in status["conditions"] if c["type"] == "Complete")
    assert complete["reason"] == "MaxTrialsReached"
    assert status["trials"] == {
        "active": 0,
        "queued": 0,
        "succeeded": 5,
        "failed": 0,
        "pruned": 0,
        "retried": 0,
        "total": 5,
    }
    assert status["observedGeneration"] == 1
    best = status["bestTrial"]
    params = best["parameters"]
    assert best["objective"] == pytest.approx(
        (params["x"] - 0.3) ** 2 + 0.01 * params["layers"], abs=1e-5
    )
    assert best["metrics"]["accuracy"] == pytest.approx(1 - best["objective"], abs=1e-5)
    assert best["name"] == best["jobName"] == f"gpu-study-{best['number']}"
    assert status["startTime"] <= status["completionTime"]

    jobs = cluster.jobs("gpu-study")
    assert sorted(j["metadata"]["name"] for j in jobs) == [f"gpu-study-{n}" for n in range(5)]
    for job in jobs:
        pod = job["spec"]["template"]["spec"]
        assert pod["nodeSelector"] == {"nvidia.com/gpu.product": GPU_PRODUCT}
        assert pod["tolerations"] == GPU_POD["tolerations"]
        assert str(pod["containers"][0]["resources"]["limits"]["nvidia.com/gpu"]) == "1"
        assert job["metadata"]["ownerReferences"][0]["kind"] == "TuningJob"
        trial = job["metadata"]["labels"]["kubetune.io/trial"]
        assert job["metadata"]["name"] == f"gpu-study-{trial}"

    table = cluster.kubectl("get", "tj", "gpu-study").stdout
    assert "Complete" in table
    assert f"{best['objective']:.4}"[:4] in table


def test_unschedulable_trial_is_surfaced_and_times_out(
    cluster: Cluster, operator: OperatorProcess
) -> None:
    pod = {**GPU_POD, "nodeSelector": {"nvidia.com/gpu.product": "NVIDIA-H100-80GB-HBM3"}}
    manifest = tuningjob(
        "no-gpu",
        max_trials=2,
        parallel=1,
        pod_spec=pod,
        container=GPU_LIMITS,
        limits={"pendingTimeout": "3s", "maxFailedTrials": 0},
    )
    cluster.apply(manifest)

    running = eventually(
        lambda: (
            (c := cluster.condition("no-gpu", "Running")) and "Unschedulable" in c["message"] and c
        ),
        message="Running condition naming the Unschedulable trial",
    )
    assert "no-gpu-0" in running["message"]
    eventually(
        lambda: any(e.reason == "TrialPending" for e in cluster.events("no-gpu")),
        message="a TrialPending event",
    )
    failed = cluster.wait_condition("no-gpu", "Failed", timeout=60)
    assert failed["reason"] == "MaxFailedTrialsExceeded"
    assert cluster.tuningjob("no-gpu")["status"]["trials"]["failed"] == 1
    eventually(lambda: not cluster.jobs("no-gpu"), message="the stuck trial's Job is removed")


def test_failing_trials_fail_the_tuningjob(cluster: Cluster, operator: OperatorProcess) -> None:
    cluster.apply(
        tuningjob(
            "always-fails", mode="fail", max_trials=5, parallel=1, limits={"maxFailedTrials": 1}
        )
    )

    failed = cluster.wait_condition("always-fails", "Failed")
    assert failed["reason"] == "MaxFailedTrialsExceeded"
    assert cluster.tuningjob("always-fails")["status"]["trials"]["failed"] == 2
