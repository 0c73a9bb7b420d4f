"""Unit tests for the pure parts: quantities, predicates, messages, env expansion, node config."""

from __future__ import annotations

import sys
from fractions import Fraction
from pathlib import Path
from typing import Any

import pytest

from tests.kubesim.cluster import default_nodes, load_nodes
from tests.kubesim.cluster.containers import command_line, expand, memory_limit_bytes
from tests.kubesim.cluster.nodes import NodeConfigError, make_node
from tests.kubesim.cluster.quantities import QuantityError, format_quantity, parse_quantity
from tests.kubesim.cluster.scheduling import (
    filter_reasons,
    insufficient_resources,
    matches_node_selector_and_affinity,
    pod_requests,
    requirement_matches,
    tolerates,
    unschedulable_message,
)

GPU_NODE = default_nodes()[2]
CPU_NODE = default_nodes()[0]


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("2", Fraction(2)),
        ("500m", Fraction(1, 2)),
        ("1Gi", Fraction(2**30)),
        ("1.5", Fraction(3, 2)),
        ("100Mi", Fraction(100 * 2**20)),
        ("1k", Fraction(1000)),
        ("1M", Fraction(10**6)),
        ("1e3", Fraction(1000)),
        ("2E", Fraction(2 * 10**18)),
        ("0.1", Fraction(1, 10)),
        (".5", Fraction(1, 2)),
        ("250u", Fraction(1, 4000)),
        (8, Fraction(8)),
        ("1.5Gi", Fraction(3 * 2**29)),
    ],
)
def test_parse_quantity(text: str | int, value: Fraction) -> None:
    assert parse_quantity(text) == value


@pytest.mark.parametrize("text", ["", "abc", "1GB", "1 Gi", "--1", "1.2.3"])
def test_parse_quantity_rejects(text: str) -> None:
    with pytest.raises(QuantityError):
        parse_quantity(text)


def test_quantity_sums_are_exact() -> None:
    assert sum((parse_quantity("333m") for _ in range(3)), Fraction(0)) <= parse_quantity("1")
    assert format_quantity(Fraction(3, 2)) == "1500m"
    assert format_quantity(Fraction(4)) == "4"


def _pod(**spec: Any) -> dict[str, Any]:
    return {
        "metadata": {"name": "p", "namespace": "d"},
        "spec": {"containers": [{"name": "c"}], **spec},
    }


def _container(
    requests: dict[str, str] | None = None, limits: dict[str, str] | None = None
) -> dict[str, Any]:
    resources: dict[str, Any] = {}
    if requests:
        resources["requests"] = requests
    if limits:
        resources["limits"] = limits
    return {"name": "c", "resources": resources}


def test_pod_requests_sum_fallback_to_limits_and_init_max() -> None:
    pod = _pod(
        containers=[
            _container({"cpu": "500m"}, {"nvidia.com/gpu": "2", "cpu": "1"}),
            _container({"cpu": "1", "memory": "1Gi"}),
        ],
        initContainers=[_container({"cpu": "2"}), _container({"memory": "512Mi"})],
    )
    assert pod_requests(pod) == {
        "cpu": Fraction(2),
        "memory": Fraction(2**30),
        "nvidia.com/gpu": Fraction(2),
    }


@pytest.mark.parametrize(
    ("operator", "values", "labels", "expected"),
    [
        ("In", ["a", "b"], {"k": "a"}, True),
        ("In", ["a"], {"k": "c"}, False),
        ("In", ["a"], {}, False),
        ("NotIn", ["a"], {"k": "b"}, True),
        ("NotIn", ["a"], {}, True),
        ("NotIn", ["a"], {"k": "a"}, False),
        ("Exists", [], {"k": ""}, True),
        ("Exists", [], {}, False),
        ("DoesNotExist", [], {}, True),
        ("DoesNotExist", [], {"k": "x"}, False),
        ("Gt", ["4"], {"k": "8"}, True),
        ("Gt", ["8"], {"k": "8"}, False),
        ("Lt", ["8"], {"k": "4"}, True),
        ("Gt", ["4"], {"k": "many"}, False),
        ("Lt", ["4"], {}, False),
        ("Bogus", ["a"], {"k": "a"}, False),
    ],
)
def test_node_selector_requirement(
    operator: str, values: list[str], labels: dict[str, str], expected: bool
) -> None:
    requirement = {"key": "k", "operator": operator, "values": values}
    assert requirement_matches(requirement, labels) is expected


def _affinity(*terms: dict[str, Any]) -> dict[str, Any]:
    return {
        "nodeAffinity": {
            "requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": list(terms)}
        }
    }


def test_affinity_terms_are_ored_and_expressions_anded() -> None:
    gpu_term = {
        "matchExpressions": [
            {
                "key": "nvidia.com/gpu.product",
                "operator": "In",
                "values": ["NVIDIA-A100-SXM4-80GB"],
            },
            {"key": "kubernetes.io/os", "operator": "In", "values": ["linux"]},
        ]
    }
    name_term = {"matchFields": [{"key": "metadata.name", "operator": "In", "values": ["cpu-1"]}]}
    pod = _pod(affinity=_affinity(gpu_term, name_term))
    assert matches_node_selector_and_affinity(pod, GPU_NODE)
    assert matches_node_selector_and_affinity(pod, CPU_NODE)
    assert not matches_node_selector_and_affinity(pod, default_nodes()[1])
    assert not matches_node_selector_and_affinity(_pod(affinity=_affinity({})), CPU_NODE)
    selector = _pod(nodeSelector={"kubernetes.io/hostname": "cpu-1"})
    assert matches_node_selector_and_affinity(selector, CPU_NODE)
    assert not matches_node_selector_and_affinity(selector, GPU_NODE)


TAINT = {"key": "nvidia.com/gpu", "effect": "NoSchedule"}


@pytest.mark.parametrize(
    ("toleration", "expected"),
    [
        ({"key": "nvidia.com/gpu", "operator": "Exists"}, True),
        ({"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}, True),
        ({"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoExecute"}, False),
        ({"key": "nvidia.com/gpu", "operator": "Equal", "value": ""}, True),
        ({"key": "nvidia.com/gpu", "value": "present"}, False),
        ({"operator": "Exists"}, True),
        ({"operator": "Equal"}, False),
        ({"key": "other", "operator": "Exists"}, False),
    ],
)
def test_tolerations(toleration: dict[str, str], expected: bool) -> None:
    assert tolerates(toleration, TAINT) is expected


def test_prefer_no_schedule_taints_do_not_filter() -> None:
    node = make_node("soft", taints=[{"key": "x", "effect": "PreferNoSchedule"}])
    assert filter_reasons(_pod(), node, {}, {}, 0) == []


def test_filter_order_and_reasons() -> None:
    gpu_pod = _pod(
        containers=[_container(limits={"nvidia.com/gpu": "16"})],
        tolerations=[{"key": "nvidia.com/gpu", "operator": "Exists"}],
    )
    requests = pod_requests(gpu_pod)
    assert filter_reasons(gpu_pod, GPU_NODE, requests, {}, 0) == ["Insufficient nvidia.com/gpu"]
    assert filter_reasons(gpu_pod, CPU_NODE, requests, {}, 0) == ["Insufficient nvidia.com/gpu"]
    untolerated = _pod(nodeSelector={"nvidia.com/gpu.product": "H100"})
    assert filter_reasons(untolerated, GPU_NODE, {}, {}, 0) == [
        "node(s) had untolerated taint {nvidia.com/gpu: }"
    ]
    assert filter_reasons(untolerated, CPU_NODE, {}, {}, 0) == [
        "node(s) didn't match Pod's node affinity/selector"
    ]
    cordoned = make_node("c", unschedulable=True)
    assert filter_reasons(_pod(), cordoned, {}, {}, 0) == ["node(s) were unschedulable"]


def test_insufficient_resources_accounts_used_and_pods() -> None:
    allocatable = {"cpu": Fraction(4), "memory": Fraction(16 * 2**30), "pods": Fraction(2)}
    used = {"cpu": Fraction(7, 2)}
    assert insufficient_resources({"cpu": Fraction(1, 2)}, allocatable, used, 1) == []
    assert insufficient_resources({"cpu": Fraction(1)}, allocatable, used, 1) == [
        "Insufficient cpu"
    ]
    assert insufficient_resources({}, allocatable, {}, 2) == ["Too many pods"]


def test_unschedulable_message_counts_and_sorts() -> None:
    message = unschedulable_message(
        3,
        [
            ["node(s) didn't match Pod's node affinity/selector"],
            ["node(s) had untolerated taint {nvidia.com/gpu: }"],
            ["node(s) didn't match Pod's node affinity/selector"],
        ],
    )
    assert message == (
        "0/3 nodes are available: 1 node(s) had untolerated taint "
        "{nvidia.com/gpu: }, 2 node(s) didn't match Pod's node affinity/selector."
    )
    assert unschedulable_message(
        2, [["Insufficient cpu", "Insufficient memory"], ["Insufficient cpu"]]
    ) == ("0/2 nodes are available: 1 Insufficient memory, 2 Insufficient cpu.")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("$(A)", "1"),
        ("x$(A)y$(B)", "x1y2"),
        ("$$(A)", "$(A)"),
        ("$(MISSING)", "$(MISSING)"),
        ("$$", "$"),
        ("$A", "$A"),
        ("$(A", "$(A"),
        ("a$", "a$"),
        ("$$$$", "$$"),
    ],
)
def test_dependent_variable_expansion(text: str, expected: str) -> None:
    assert expand(text, {"A": "1", "B": "2"}) == expected


def test_command_line_resolves_python_and_path() -> None:
    argv = command_line({"command": ["python3", "-c", "pass"]}, {}, "/usr/bin:/bin")
    assert argv[0] == sys.executable
    argv = command_line(
        {"command": ["sh"], "args": ["-c", "echo $(X)"]}, {"X": "1"}, "/usr/bin:/bin"
    )
    assert argv[1:] == ["-c", "echo 1"]
    assert Path(argv[0]).name == "sh"
    with pytest.raises(FileNotFoundError, match="executable file not found"):
        command_line({"command": ["no-such-binary-xyz"]}, {}, "/usr/bin")
    assert command_line({"args": ["python", "-V"]}, {}, "")[0] == sys.executable


def test_memory_limit_bytes() -> None:
    assert memory_limit_bytes({"resources": {"limits": {"memory": "200Mi"}}}) == 200 * 2**20
    assert memory_limit_bytes({"resources": {"requests": {"memory": "1Gi"}}}) is None


def test_default_nodes() -> None:
    nodes = {n["metadata"]["name"]: n for n in default_nodes()}
    assert set(nodes) == {"cpu-1", "cpu-2", "gpu-1"}
    assert nodes["cpu-1"]["status"]["capacity"]["cpu"] == "4"
    assert nodes["cpu-1"]["status"]["capacity"]["memory"] == "16Gi"
    assert nodes["gpu-1"]["status"]["allocatable"]["nvidia.com/gpu"] == "8"
    assert nodes["gpu-1"]["spec"]["taints"] == [{"key": "nvidia.com/gpu", "effect": "NoSchedule"}]
    for node in nodes.values():
        labels = node["metadata"]["labels"]
        assert labels["kubernetes.io/os"] == "linux"
        assert labels["kubernetes.io/hostname"] == node["metadata"]["name"]
        assert "kubernetes.io/arch" in labels


def test_load_nodes(tmp_path: Path) -> None:
    path = tmp_path / "nodes.yaml"
    path.write_text(
        "nodes:\n"
        "  - name: big\n"
        "    labels: {pool: gpu}\n"
        "    taints: [{key: dedicated, value: ml, effect: NoExecute}]\n"
        "    capacity: {cpu: 64, memory: 512Gi, nvidia.com/gpu: 4}\n"
        "  - name: small\n"
    )
    big, small = load_nodes(path)
    assert big["metadata"]["labels"]["pool"] == "gpu"
    assert big["spec"]["taints"] == [{"key": "dedicated", "value": "ml", "effect": "NoExecute"}]
    assert big["status"]["allocatable"] == {
        "cpu": "64",
        "memory": "512Gi",
        "pods": "110",
        "ephemeral-storage": "100Gi",
        "nvidia.com/gpu": "4",
    }
    assert small["status"]["capacity"]["cpu"] == "4"
    path.write_text("nodes:\n  - name: a\n  - name: a\n")
    with pytest.raises(NodeConfigError, match="duplicate"):
        load_nodes(path)
    path.write_text("nodes:\n  - name: a\n    taints: [{key: k, effect: Sometimes}]\n")
    with pytest.raises(NodeConfigError, match="effect"):
        load_nodes(path)
