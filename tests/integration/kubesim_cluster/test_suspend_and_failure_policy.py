"""Job suspension and podFailurePolicy, checked through the official client and kubectl."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

from kubernetes import client

from tests.kubesim.harness import KubeSim, wait_until

from .support import job_manifest, job_pods, wait_job_condition, wait_pod_phase

SLEEP = ["sleep", "300"]
DISRUPTION_POLICY = {
    "rules": [
        {"action": "Ignore", "onPodConditions": [{"type": "DisruptionTarget"}]},
        {"action": "FailJob", "onExitCodes": {"operator": "NotIn", "values": [0]}},
    ]
}


def _kubectl(sim: KubeSim, binaries: dict[str, Path], *args: str) -> str:
    done = subprocess.run(
        [str(binaries["kubectl"]), "--kubeconfig", str(sim.kubeconfig), *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def _running_pod(core: client.CoreV1Api, ns: str, job: str) -> client.V1Pod:
    def check() -> client.V1Pod | None:
        running = [p for p in job_pods(core, ns, job) if p.status.phase == "Running"]
        return running[0] if running else None

    return wait_until(check, timeout=30, message=f"a running pod of {ns}/{job}")


def _condition(batch: client.BatchV1Api, ns: str, name: str, kind: str) -> client.V1JobCondition:
    job = batch.read_namespaced_job_status(name, ns)
    return next((c for c in job.status.conditions or [] if c.type == kind), None)


def test_suspend_deletes_pods_uncounted_and_resume_restarts_the_clock(
    sim: KubeSim,
    core: client.CoreV1Api,
    batch: client.BatchV1Api,
    ns: str,
    kube_binaries: dict[str, Path],
) -> None:
    batch.create_namespaced_job(ns, job_manifest("pausable", SLEEP))
    first = _running_pod(core, ns, "pausable")
    started = batch.read_namespaced_job_status("pausable", ns).status.start_time
    assert started is not None

    _kubectl(
        sim, kube_binaries, "-n", ns, "patch", "job/pausable", "-p", '{"spec":{"suspend":true}}'
    )
    suspended = wait_job_condition(batch, ns, "pausable", "Suspended")
    assert (suspended.reason, suspended.message) == ("JobSuspended", "Job suspended")
    wait_until(
        lambda: not job_pods(core, ns, "pausable"), timeout=30, message="suspended Job's pods gone"
    )
    status = batch.read_namespaced_job_status("pausable", ns).status
    assert status.start_time is None
    assert not status.active
    assert not status.failed  # pods deleted by suspension are not failures

    time.sleep(1.1)  # so the new startTime (second resolution) is visibly later
    _kubectl(
        sim, kube_binaries, "-n", ns, "patch", "job/pausable", "-p", '{"spec":{"suspend":false}}'
    )
    second = _running_pod(core, ns, "pausable")
    assert second.metadata.uid != first.metadata.uid
    resumed = _condition(batch, ns, "pausable", "Suspended")
    assert (resumed.status, resumed.reason, resumed.message) == (
        "False",
        "JobResumed",
        "Job resumed",
    )
    restarted = batch.read_namespaced_job_status("pausable", ns).status.start_time
    assert restarted is not None
    assert restarted > started
    batch.delete_namespaced_job("pausable", ns, propagation_policy="Background")


def test_active_deadline_does_not_run_while_suspended(
    core: client.CoreV1Api, batch: client.BatchV1Api, ns: str
) -> None:
    manifest = job_manifest("deadline", SLEEP, suspend=True, activeDeadlineSeconds=3)
    batch.create_namespaced_job(ns, manifest)
    wait_job_condition(batch, ns, "deadline", "Suspended")
    time.sleep(3.5)  # longer than the deadline: a running clock would have failed the Job by now
    assert _condition(batch, ns, "deadline", "Failed") is None
    assert not job_pods(core, ns, "deadline")

    resumed_at = time.monotonic()
    batch.patch_namespaced_job("deadline", ns, {"spec": {"suspend": False}})
    failed = wait_job_condition(batch, ns, "deadline", "Failed", timeout=30)
    assert failed.reason == "DeadlineExceeded"
    # Counted from the resume (startTime has one-second resolution, as in Kubernetes).
    assert time.monotonic() - resumed_at >= 2.0


def test_fail_job_rule_on_exit_code(batch: client.BatchV1Api, ns: str) -> None:
    policy = {"rules": [{"action": "FailJob", "onExitCodes": {"operator": "In", "values": [42]}}]}
    manifest = job_manifest("exit42", ["sh", "-c", "exit 42"], podFailurePolicy=policy)
    batch.create_namespaced_job(ns, manifest)
    failed = wait_job_condition(batch, ns, "exit42", "Failed")
    assert failed.reason == "PodFailurePolicy"
    assert failed.message.startswith("Container main for pod ")
    assert failed.message.endswith(" failed with exit code 42 matching FailJob rule at index 0")
    target = wait_job_condition(batch, ns, "exit42", "FailureTarget")
    assert target.reason == "PodFailurePolicy"
    assert batch.read_namespaced_job_status("exit42", ns).status.failed == 1  # no retry


def test_count_rule_and_unmatched_exit_code_use_the_backoff_limit(
    batch: client.BatchV1Api, ns: str
) -> None:
    policy = {"rules": [{"action": "FailJob", "onExitCodes": {"operator": "In", "values": [42]}}]}
    manifest = job_manifest(
        "exit3", ["sh", "-c", "exit 3"], podFailurePolicy=policy, backoffLimit=1
    )
    batch.create_namespaced_job(ns, manifest)
    failed = wait_job_condition(batch, ns, "exit3", "Failed", timeout=40)
    assert failed.reason == "BackoffLimitExceeded"
    assert batch.read_namespaced_job_status("exit3", ns).status.failed == 2


def test_evicted_pod_gets_disruption_target_and_is_deleted(core: client.CoreV1Api, ns: str) -> None:
    pod = {
        "metadata": {"name": "victim", "finalizers": ["example.com/hold"]},
        "spec": {
            "restartPolicy": "Never",
            "containers": [{"name": "main", "image": "python:3.11", "command": SLEEP}],
        },
    }
    core.create_namespaced_pod(ns, pod)
    wait_pod_phase(core, ns, "victim", ("Running",))
    core.create_namespaced_pod_eviction(
        "victim",
        ns,
        {"apiVersion": "policy/v1", "kind": "Eviction", "metadata": {"name": "victim"}},
    )

    def stopped() -> client.V1Pod | None:
        current = core.read_namespaced_pod("victim", ns)
        return current if current.status.phase == "Failed" else None

    evicted = wait_until(stopped, timeout=30, message="evicted pod stopped")
    assert evicted.metadata.deletion_timestamp is not None
    disruption = next(c for c in evicted.status.conditions if c.type == "DisruptionTarget")
    assert (disruption.status, disruption.reason, disruption.message) == (
        "True",
        "EvictionByEvictionAPI",
        "Eviction API: evicting",
    )
    core.patch_namespaced_pod("victim", ns, {"metadata": {"finalizers": None}})
    wait_until(
        lambda: not core.list_namespaced_pod(ns).items, timeout=15, message="evicted pod removed"
    )


def test_job_replaces_an_evicted_pod_without_counting_it(
    core: client.CoreV1Api, batch: client.BatchV1Api, ns: str
) -> None:
    manifest = job_manifest("spot", SLEEP, backoffLimit=0, podFailurePolicy=DISRUPTION_POLICY)
    batch.create_namespaced_job(ns, manifest)
    first = _running_pod(core, ns, "spot")
    core.create_namespaced_pod_eviction(
        first.metadata.name, ns, {"metadata": {"name": first.metadata.name}}
    )
    replacement = wait_until(
        lambda: next(
            (
                p
                for p in job_pods(core, ns, "spot")
                if p.metadata.uid != first.metadata.uid and p.status.phase == "Running"
            ),
            None,
        ),
        timeout=30,
        message="a replacement pod running",
    )
    assert replacement.metadata.name != first.metadata.name
    status = batch.read_namespaced_job_status("spot", ns).status
    assert not status.failed  # Ignore: not counted, so backoffLimit 0 is not exceeded
    assert _condition(batch, ns, "spot", "Failed") is None
    batch.delete_namespaced_job("spot", ns, propagation_policy="Background")


def test_kubectl_delete_of_a_pod_fails_the_job_through_the_exit_code_rule(
    sim: KubeSim,
    core: client.CoreV1Api,
    batch: client.BatchV1Api,
    ns: str,
    kube_binaries: dict[str, Path],
) -> None:
    """A plain delete is no disruption: the killed container's non-zero code matches FailJob."""
    batch.create_namespaced_job(
        ns, job_manifest("plain", SLEEP, podFailurePolicy=DISRUPTION_POLICY)
    )
    pod = _running_pod(core, ns, "plain")
    _kubectl(sim, kube_binaries, "-n", ns, "delete", "pod", pod.metadata.name, "--wait=false")
    failed = wait_job_condition(batch, ns, "plain", "Failed", timeout=30)
    assert failed.reason == "PodFailurePolicy"
    assert "matching FailJob rule at index 1" in failed.message


def test_node_not_ready_evicts_its_pods_with_disruption_target(
    sim: KubeSim,
    core: client.CoreV1Api,
    batch: client.BatchV1Api,
    ns: str,
    kube_binaries: dict[str, Path],
) -> None:
    manifest = job_manifest("lost", SLEEP, backoffLimit=0, podFailurePolicy=DISRUPTION_POLICY)
    batch.create_namespaced_job(ns, manifest)
    first = _running_pod(core, ns, "lost")
    node = first.spec.node_name
    pinned = {  # a bare pod on the same node, held by a finalizer so its last state can be read
        "metadata": {"name": "pinned", "finalizers": ["example.com/hold"]},
        "spec": {
            "nodeName": node,
            "restartPolicy": "Never",
            "containers": [{"name": "main", "image": "python:3.11", "command": SLEEP}],
        },
    }
    core.create_namespaced_pod(ns, pinned)
    wait_pod_phase(core, ns, "pinned", ("Running",))
    not_ready = (
        '{"status":{"conditions":[{"type":"Ready","status":"False","reason":"KubeletNotReady"}]}}'
    )
    _kubectl(sim, kube_binaries, "patch", "node", node, "--subresource=status", "-p", not_ready)
    try:
        taints = wait_until(
            lambda: core.read_node(node).spec.taints, timeout=15, message="not-ready taints"
        )
        assert {(t.key, t.effect) for t in taints} >= {
            ("node.kubernetes.io/not-ready", "NoExecute"),
            ("node.kubernetes.io/not-ready", "NoSchedule"),
        }

        def replaced() -> client.V1Pod | None:
            for pod in job_pods(core, ns, "lost"):
                if pod.metadata.uid != first.metadata.uid and pod.status.phase == "Running":
                    return pod
            return None

        replacement = wait_until(replaced, timeout=30, message="a replacement on another node")
        assert replacement.spec.node_name != node
        status = batch.read_namespaced_job_status("lost", ns).status
        assert not status.failed
        assert _condition(batch, ns, "lost", "Failed") is None
        evicted = wait_pod_phase(core, ns, "pinned", ("Failed",))
        assert evicted.metadata.deletion_timestamp is not None
        disruption = next(c for c in evicted.status.conditions if c.type == "DisruptionTarget")
        assert (disruption.reason, disruption.message) == (
            "DeletionByTaintManager",
            "Taint manager: deleting due to NoExecute taint",
        )
        core.patch_namespaced_pod("pinned", ns, {"metadata": {"finalizers": None}})
    finally:
        ready = (
            '{"status":{"conditions":[{"type":"Ready","status":"True","reason":"KubeletReady"}]}}'
        )
        _kubectl(sim, kube_binaries, "patch", "node", node, "--subresource=status", "-p", ready)
    wait_until(
        lambda: (
            not [
                t
                for t in core.read_node(node).spec.taints or []
                if t.key.startswith("node.kubernetes")
            ]
        ),
        timeout=15,
        message="taints removed once Ready again",
    )
    batch.delete_namespaced_job("lost", ns, propagation_policy="Background")


def test_kubectl_drain_evicts_through_the_eviction_api(
    sim: KubeSim,
    core: client.CoreV1Api,
    batch: client.BatchV1Api,
    ns: str,
    kube_binaries: dict[str, Path],
) -> None:
    manifest = job_manifest("drained", SLEEP, backoffLimit=0, podFailurePolicy=DISRUPTION_POLICY)
    batch.create_namespaced_job(ns, manifest)
    first = _running_pod(core, ns, "drained")
    node = first.spec.node_name
    try:
        out = _kubectl(
            sim,
            kube_binaries,
            "drain",
            node,
            "--pod-selector=job-name=drained",
            "--timeout=60s",
        )
        assert f"evicting pod {ns}/{first.metadata.name}" in out
        assert core.read_node(node).spec.unschedulable
        replacement = _running_pod(core, ns, "drained")
        assert replacement.metadata.uid != first.metadata.uid
        assert replacement.spec.node_name != node
        assert not batch.read_namespaced_job_status("drained", ns).status.failed
    finally:
        _kubectl(sim, kube_binaries, "uncordon", node)
    batch.delete_namespaced_job("drained", ns, propagation_policy="Background")
