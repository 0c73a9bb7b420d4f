"""The scheduler binds pods where they fit and explains, like kube-scheduler, when none does."""

from __future__ import annotations

from kubernetes import client

from tests.kubesim.cluster.nodes import make_node
from tests.kubesim.harness import wait_until

from .support import PRINT_VAL_LOSS, job_manifest, job_pods, wait_job_condition, wait_log_line

GPU_TOLERATION = {"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}
A100 = {"nvidia.com/gpu.product": "NVIDIA-A100-SXM4-80GB"}


def _unschedulable_condition(core: client.CoreV1Api, ns: str, job: str) -> object:
    def check() -> object:
        pods = job_pods(core, ns, job)
        for condition in (pods[0].status.conditions or []) if pods else []:
            if condition.type == "PodScheduled" and condition.status == "False":
                return condition
        return None

    return wait_until(check, message=f"pod of {job} marked unschedulable")


def _failed_scheduling_events(core: client.CoreV1Api, ns: str) -> list[str]:
    events = core.list_namespaced_event(ns).items
    return [
        e.message
        for e in events
        if e.reason == "FailedScheduling" and e.involved_object.kind == "Pod"
    ]


def test_nodes_are_registered(core: client.CoreV1Api) -> None:
    nodes = {n.metadata.name: n for n in core.list_node().items}
    assert set(nodes) == {"cpu-1", "cpu-2", "gpu-1"}
    gpu = nodes["gpu-1"]
    assert gpu.status.capacity["nvidia.com/gpu"] == "8"
    assert gpu.metadata.labels["nvidia.com/gpu.product"] == "NVIDIA-A100-SXM4-80GB"
    assert [(t.key, t.effect) for t in gpu.spec.taints] == [("nvidia.com/gpu", "NoSchedule")]
    for node in nodes.values():
        ready = {c.type: c.status for c in node.status.conditions}["Ready"]
        assert ready == "True"
        assert node.metadata.labels["kubernetes.io/hostname"] == node.metadata.name


def test_too_many_gpus_stays_pending(
    core: client.CoreV1Api, batch: client.BatchV1Api, ns: str
) -> None:
    manifest = job_manifest(
        "big",
        PRINT_VAL_LOSS,
        container={"resources": {"limits": {"nvidia.com/gpu": "16"}}},
        pod_spec={"tolerations": [GPU_TOLERATION]},
    )
    batch.create_namespaced_job(ns, manifest)
    condition = _unschedulable_condition(core, ns, "big")
    assert condition.reason == "Unschedulable"  # type: ignore[attr-defined]
    assert condition.message == (  # type: ignore[attr-defined]
        "0/3 nodes are available: 3 Insufficient nvidia.com/gpu."
    )
    [pod] = job_pods(core, ns, "big")
    assert pod.status.phase == "Pending"
    assert pod.spec.node_name is None
    messages = wait_until(lambda: _failed_scheduling_events(core, ns), message="event")
    assert messages == [condition.message]  # type: ignore[attr-defined]
    job = batch.read_namespaced_job_status("big", ns)
    assert job.status.active == 1
    assert not job.status.conditions


def test_unknown_gpu_product_explains_taint_and_selector(
    core: client.CoreV1Api, batch: client.BatchV1Api, ns: str
) -> None:
    manifest = job_manifest(
        "h100", PRINT_VAL_LOSS, pod_spec={"nodeSelector": {"nvidia.com/gpu.product": "H100"}}
    )
    batch.create_namespaced_job(ns, manifest)
    condition = _unschedulable_condition(core, ns, "h100")
    assert condition.message == (  # type: ignore[attr-defined]
        "0/3 nodes are available: 1 node(s) had untolerated taint {nvidia.com/gpu: }, "
        "2 node(s) didn't match Pod's node affinity/selector."
    )
    wait_until(lambda: _failed_scheduling_events(core, ns), message="FailedScheduling event")


def test_gpu_job_lands_on_gpu_node(
    core: client.CoreV1Api, batch: client.BatchV1Api, ns: str
) -> None:
    manifest = job_manifest(
        "train",
        PRINT_VAL_LOSS,
        container={"resources": {"limits": {"nvidia.com/gpu": "1"}}},
        pod_spec={"nodeSelector": A100, "tolerations": [GPU_TOLERATION]},
    )
    batch.create_namespaced_job(ns, manifest)
    wait_job_condition(batch, ns, "train", "Complete")
    [pod] = job_pods(core, ns, "train")
    assert pod.spec.node_name == "gpu-1"
    scheduled = {c.type: c.status for c in pod.status.conditions}["PodScheduled"]
    assert scheduled == "True"


def test_required_node_affinity_match_fields(
    core: client.CoreV1Api, batch: client.BatchV1Api, ns: str
) -> None:
    affinity = {
        "nodeAffinity": {
            "requiredDuringSchedulingIgnoredDuringExecution": {
                "nodeSelectorTerms": [
                    {
                        "matchFields": [
                            {"key": "metadata.name", "operator": "In", "values": ["cpu-2"]}
                        ]
                    }
                ]
            }
        }
    }
    batch.create_namespaced_job(
        ns, job_manifest("pinned", PRINT_VAL_LOSS, pod_spec={"affinity": affinity})
    )
    wait_job_condition(batch, ns, "pinned", "Complete")
    assert job_pods(core, ns, "pinned")[0].spec.node_name == "cpu-2"


def test_freed_gpus_let_pending_pod_schedule(
    core: client.CoreV1Api, batch: client.BatchV1Api, ns: str
) -> None:
    def gpu_job(name: str, command: list[str]) -> dict[str, object]:
        return job_manifest(
            name,
            command,
            container={"resources": {"limits": {"nvidia.com/gpu": "8"}}},
            pod_spec={"nodeSelector": A100, "tolerations": [GPU_TOLERATION]},
        )

    batch.create_namespaced_job(ns, gpu_job("first", ["sh", "-c", "echo up; sleep 300"]))
    first = wait_until(lambda: job_pods(core, ns, "first"), message="first pod")[0]
    wait_log_line(core, ns, first.metadata.name, "up")
    batch.create_namespaced_job(ns, gpu_job("second", PRINT_VAL_LOSS))
    condition = _unschedulable_condition(core, ns, "second")
    assert "1 Insufficient nvidia.com/gpu" in condition.message  # type: ignore[attr-defined]
    batch.delete_namespaced_job("first", ns, propagation_policy="Background")
    wait_job_condition(batch, ns, "second", "Complete")
    assert job_pods(core, ns, "second")[0].spec.node_name == "gpu-1"


def test_cpu_requests_are_accounted(
    core: client.CoreV1Api, batch: client.BatchV1Api, ns: str
) -> None:
    # Two 3-cpu pods cannot share a 4-cpu node: they must land on both CPU nodes.
    manifest = job_manifest(
        "wide",
        ["sh", "-c", "echo up; sleep 300"],
        parallelism=2,
        completions=2,
        container={"resources": {"requests": {"cpu": "3000m", "memory": "1Gi"}}},
    )
    batch.create_namespaced_job(ns, manifest)
    pods = wait_until(
        lambda: (
            [p for p in job_pods(core, ns, "wide") if p.spec.node_name]
            if len(job_pods(core, ns, "wide")) == 2
            and all(p.spec.node_name for p in job_pods(core, ns, "wide"))
            else None
        ),
        message="both pods bound",
    )
    assert sorted(p.spec.node_name for p in pods) == ["cpu-1", "cpu-2"]
    batch.create_namespaced_job(
        ns,
        job_manifest("third", PRINT_VAL_LOSS, container={"resources": {"requests": {"cpu": "2"}}}),
    )
    condition = _unschedulable_condition(core, ns, "third")
    assert condition.message == (  # type: ignore[attr-defined]
        "0/3 nodes are available: 1 node(s) had untolerated taint {nvidia.com/gpu: }, "
        "2 Insufficient cpu."
    )
    batch.delete_namespaced_job("wide", ns, propagation_policy="Background")
    wait_job_condition(batch, ns, "third", "Complete")


def test_new_node_lets_pending_pod_schedule(
    core: client.CoreV1Api, batch: client.BatchV1Api, ns: str
) -> None:
    selector = {"nvidia.com/gpu.product": "NVIDIA-H100-80GB-HBM3"}
    batch.create_namespaced_job(
        ns, job_manifest("wait-h100", PRINT_VAL_LOSS, pod_spec={"nodeSelector": selector})
    )
    _unschedulable_condition(core, ns, "wait-h100")
    node = make_node("h100-1", labels=selector, capacity={"nvidia.com/gpu": "8"})
    core.create_node(node)
    try:
        wait_job_condition(batch, ns, "wait-h100", "Complete")
        assert job_pods(core, ns, "wait-h100")[0].spec.node_name == "h100-1"
    finally:
        core.delete_node("h100-1")
