"""The emulated cluster's Node objects: a built-in small GPU cluster, or one read from YAML.

Node config format (``--nodes FILE``)::

    nodes:                      # or the list itself at top level
      - name: cpu-1             # required, unique
        labels:                 # optional, merged over the standard labels below
          node-role.kubernetes.io/worker: ""
        taints:                 # optional, as in Node.spec.taints; value defaults to ""
          - {key: nvidia.com/gpu, value: "", effect: NoSchedule}
        capacity:               # optional; defaults: cpu 4, memory 16Gi, pods 110
          cpu: "4"
          memory: 16Gi
          nvidia.com/gpu: 8     # any extended resource
        allocatable: {...}      # optional; defaults to capacity
        unschedulable: false    # optional, like ``kubectl cordon``

Every node gets the labels a kubelet sets itself (``kubernetes.io/hostname``,
``kubernetes.io/os=linux``, ``kubernetes.io/arch``), a ``Ready=True`` condition and
``127.0.0.1`` as its address, because every emulated "node" is this machine.
"""

from __future__ import annotations

import platform
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import yaml

from ..discovery import KUBE_VERSION

GPU_PRODUCT_LABEL = "nvidia.com/gpu.product"
GPU_RESOURCE = "nvidia.com/gpu"
DEFAULT_CAPACITY = {"cpu": "4", "memory": "16Gi", "pods": "110", "ephemeral-storage": "100Gi"}
# Nodes run the kubelet of the version the API server reports at /version (same minor).
KUBELET_VERSION = KUBE_VERSION["gitVersion"]


class NodeConfigError(ValueError):
    """The node config file is not in the documented format."""


def _arch() -> str:
    machine = platform.machine().lower()
    return {"x86_64": "amd64", "amd64": "amd64", "aarch64": "arm64", "arm64": "arm64"}.get(
        machine, machine
    )


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def make_node(
    name: str,
    *,
    labels: dict[str, str] | None = None,
    taints: list[dict[str, Any]] | None = None,
    capacity: dict[str, Any] | None = None,
    allocatable: dict[str, Any] | None = None,
    unschedulable: bool = False,
) -> dict[str, Any]:
    """Build a complete v1 Node object as a kubelet would register it."""
    now = _now()
    cap = {**DEFAULT_CAPACITY, **{k: str(v) for k, v in (capacity or {}).items()}}
    alloc = {k: str(v) for k, v in (allocatable or cap).items()}
    arch = _arch()
    spec: dict[str, Any] = {}
    if taints:
        spec["taints"] = [
            {"key": t["key"], "value": str(t.get("value", "") or ""), "effect": t["effect"]}
            if t.get("value")
            else {"key": t["key"], "effect": t["effect"]}
            for t in taints
        ]
    if unschedulable:
        spec["unschedulable"] = True

    def condition(kind: str, status: str, reason: str, message: str) -> dict[str, str]:
        return {
            "type": kind,
            "status": status,
            "reason": reason,
            "message": message,
            "lastHeartbeatTime": now,
            "lastTransitionTime": now,
        }

    return {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {
            "name": name,
            "labels": {
                "kubernetes.io/hostname": name,
                "kubernetes.io/os": "linux",
                "kubernetes.io/arch": arch,
                "beta.kubernetes.io/os": "linux",
                "beta.kubernetes.io/arch": arch,
                **(labels or {}),
            },
        },
        "spec": spec,
        "status": {
            "capacity": cap,
            "allocatable": alloc,
            "conditions": [
                condition(
                    "MemoryPressure",
                    "False",
                    "KubeletHasSufficientMemory",
                    "kubelet has sufficient memory available",
                ),
                condition(
                    "DiskPressure",
                    "False",
                    "KubeletHasNoDiskPressure",
                    "kubelet has no disk pressure",
                ),
                condition(
                    "PIDPressure",
                    "False",
                    "KubeletHasSufficientPID",
                    "kubelet has sufficient PID available",
                ),
                condition("Ready", "True", "KubeletReady", "kubelet is posting ready status"),
            ],
            "addresses": [
                {"type": "InternalIP", "address": "127.0.0.1"},
                {"type": "Hostname", "address": name},
            ],
            "daemonEndpoints": {"kubeletEndpoint": {"Port": 10250}},
            "nodeInfo": {
                "architecture": arch,
                "operatingSystem": "linux",
                "osImage": "kubesim",
                "kernelVersion": platform.release(),
                "kubeletVersion": KUBELET_VERSION,
                "kubeProxyVersion": KUBELET_VERSION,
                "containerRuntimeVersion": "kubesim://0.1.0",
                "machineID": "",
                "systemUUID": "",
                "bootID": "",
            },
        },
    }


def default_nodes() -> list[dict[str, Any]]:
    """A typical small GPU cluster: two 4-cpu/16Gi CPU nodes and one tainted 8xA100 node."""
    return [
        make_node("cpu-1"),
        make_node("cpu-2"),
        make_node(
            "gpu-1",
            labels={GPU_PRODUCT_LABEL: "NVIDIA-A100-SXM4-80GB", "nvidia.com/gpu.count": "8"},
            taints=[{"key": GPU_RESOURCE, "effect": "NoSchedule"}],
            capacity={"cpu": "32", "memory": "256Gi", GPU_RESOURCE: "8"},
        ),
    ]


def nodes_from_config(config: Any) -> list[dict[str, Any]]:
    """Turn the parsed YAML (see module docstring) into Node objects, validating as we go."""
    entries = config.get("nodes") if isinstance(config, dict) else config
    if not isinstance(entries, list) or not entries:
        raise NodeConfigError("node config needs a non-empty list under 'nodes'")
    nodes: list[dict[str, Any]] = []
    seen: set[str] = set()
    for index, entry in enumerate(entries):
        if not isinstance(entry, dict) or not isinstance(entry.get("name"), str):
            raise NodeConfigError(f"nodes[{index}] needs a string 'name'")
        name = entry["name"]
        if name in seen:
            raise NodeConfigError(f"duplicate node name {name!r}")
        seen.add(name)
        taints = entry.get("taints") or []
        for taint in taints:
            if not isinstance(taint, dict) or "key" not in taint:
                raise NodeConfigError(f"node {name}: every taint needs a 'key'")
            if taint.get("effect") not in ("NoSchedule", "PreferNoSchedule", "NoExecute"):
                raise NodeConfigError(f"node {name}: bad taint effect {taint.get('effect')!r}")
        nodes.append(
            make_node(
                name,
                labels={str(k): str(v) for k, v in (entry.get("labels") or {}).items()},
                taints=taints,
                capacity=entry.get("capacity"),
                allocatable=entry.get("allocatable"),
                unschedulable=bool(entry.get("unschedulable", False)),
            )
        )
    return nodes


def load_nodes(path: Path) -> list[dict[str, Any]]:
    """Read a node config file (format in the module docstring)."""
    with open(path, encoding="utf-8") as handle:
        return nodes_from_config(yaml.safe_load(handle))
