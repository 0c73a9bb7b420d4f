"""Pure scheduling predicates: does this pod fit on this node, and if not, why not.

These mirror the default kube-scheduler filter plugins that matter for batch workloads, in the
order the scheduler runs them (it stops at the first failing plugin per node, so each node
contributes the reasons of one plugin only): NodeUnschedulable, TaintToleration, NodeAffinity
(nodeSelector + required node affinity), NodeResourcesFit. The reason strings are the real
scheduler's, because operators and people grep ``FailedScheduling`` messages for them.

Nothing here does I/O, so the scheduler controller stays a thin loop around these functions and
the semantics are unit-testable.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from fractions import Fraction
from typing import Any

from .quantities import Resources, add, maximum, parse_resource_list

NODE_AFFINITY_MISMATCH = "node(s) didn't match Pod's node affinity/selector"
NODE_UNSCHEDULABLE = "node(s) were unschedulable"
TOO_MANY_PODS = "Too many pods"
SCHEDULING_EFFECTS = ("NoSchedule", "NoExecute")

Obj = Mapping[str, Any]


def _labels(node: Obj) -> Mapping[str, str]:
    return node.get("metadata", {}).get("labels") or {}


def requirement_matches(requirement: Obj, labels: Mapping[str, str]) -> bool:
    """One ``NodeSelectorRequirement`` (In/NotIn/Exists/DoesNotExist/Gt/Lt) against labels."""
    key = requirement.get("key", "")
    operator = requirement.get("operator")
    values = requirement.get("values") or []
    present = key in labels
    if operator == "In":
        return present and labels[key] in values
    if operator == "NotIn":
        return not present or labels[key] not in values
    if operator == "Exists":
        return present
    if operator == "DoesNotExist":
        return not present
    if operator in ("Gt", "Lt"):
        if not present or len(values) != 1:
            return False
        try:
            label_value, bound = int(labels[key]), int(values[0])
        except ValueError:
            return False
        return label_value > bound if operator == "Gt" else label_value < bound
    return False


def _field_matches(requirement: Obj, node: Obj) -> bool:
    """``matchFields``: the API only allows ``metadata.name`` there."""
    if requirement.get("key") != "metadata.name":
        return False
    return requirement_matches(
        {**requirement, "key": "metadata.name"},
        {"metadata.name": node.get("metadata", {}).get("name", "")},
    )


def term_matches(term: Obj, node: Obj) -> bool:
    """A ``NodeSelectorTerm``: all its expressions and fields must match (AND). An empty term
    matches nothing, as in Kubernetes."""
    expressions = term.get("matchExpressions") or []
    fields = term.get("matchFields") or []
    if not expressions and not fields:
        return False
    labels = _labels(node)
    return all(requirement_matches(r, labels) for r in expressions) and all(
        _field_matches(f, node) for f in fields
    )


def matches_node_selector_and_affinity(pod: Obj, node: Obj) -> bool:
    """``spec.nodeSelector`` (all pairs) AND required node affinity (any term, ORed)."""
    spec = pod.get("spec", {})
    labels = _labels(node)
    for key, value in (spec.get("nodeSelector") or {}).items():
        if labels.get(key) != value:
            return False
    required = ((spec.get("affinity") or {}).get("nodeAffinity") or {}).get(
        "requiredDuringSchedulingIgnoredDuringExecution"
    ) or {}
    terms = required.get("nodeSelectorTerms")
    if terms is None:
        return True
    return any(term_matches(term, node) for term in terms)


def tolerates(toleration: Obj, taint: Obj) -> bool:
    """Whether one toleration tolerates one taint (``v1.Toleration.ToleratesTaint``)."""
    effect = toleration.get("effect") or ""
    if effect and effect != taint.get("effect"):
        return False
    key = toleration.get("key") or ""
    operator = toleration.get("operator") or "Equal"
    if not key:
        # An empty key is only valid with Exists, and then it tolerates every taint.
        return operator == "Exists"
    if key != taint.get("key"):
        return False
    if operator == "Exists":
        return True
    return operator == "Equal" and (toleration.get("value") or "") == (taint.get("value") or "")


def first_untolerated_taint(pod: Obj, node: Obj) -> Obj | None:
    """The first NoSchedule/NoExecute taint of the node that no toleration of the pod covers."""
    tolerations = pod.get("spec", {}).get("tolerations") or []
    for taint in node.get("spec", {}).get("taints") or []:
        if taint.get("effect") not in SCHEDULING_EFFECTS:
            continue
        if not any(tolerates(t, taint) for t in tolerations):
            return dict(taint)
    return None


def _container_requests(container: Obj) -> Resources:
    """Requests, falling back per resource to limits (the apiserver defaults a missing request
    to the limit, which is how ``nvidia.com/gpu`` is normally requested)."""
    resources = container.get("resources") or {}
    merged = parse_resource_list(resources.get("limits"))
    merged.update(parse_resource_list(resources.get("requests")))
    return merged


def pod_requests(pod: Obj) -> Resources:
    """Effective pod requests: sum over containers, then the key-wise max with each init
    container (init containers run one at a time before the app containers)."""
    spec = pod.get("spec", {})
    total: Resources = {}
    for container in spec.get("containers") or []:
        add(total, _container_requests(container))
    init = [_container_requests(c) for c in spec.get("initContainers") or []]
    result = maximum([total, *init])
    add(result, parse_resource_list(spec.get("overhead")))
    return result


def node_allocatable(node: Obj) -> Resources:
    """What the node offers to pods: status.allocatable, else status.capacity."""
    status = node.get("status", {})
    return parse_resource_list(status.get("allocatable") or status.get("capacity"))


def insufficient_resources(
    requests: Mapping[str, Fraction],
    allocatable: Mapping[str, Fraction],
    used: Mapping[str, Fraction],
    used_pods: int,
) -> list[str]:
    """NodeResourcesFit reasons (``Too many pods``, ``Insufficient cpu``, ...), empty if it fits.

    Only resources the pod actually requests are checked; a pod requesting an extended resource
    the node lacks entirely is "Insufficient" for it, as in Kubernetes.
    """
    reasons: list[str] = []
    max_pods = allocatable.get("pods")
    if max_pods is not None and used_pods + 1 > max_pods:
        reasons.append(TOO_MANY_PODS)
    for name in sorted(requests):
        amount = requests[name]
        if name == "pods" or amount <= 0:
            continue
        free = allocatable.get(name, Fraction(0)) - used.get(name, Fraction(0))
        if amount > free:
            reasons.append(f"Insufficient {name}")
    return reasons


def filter_reasons(
    pod: Obj,
    node: Obj,
    requests: Mapping[str, Fraction],
    used: Mapping[str, Fraction],
    used_pods: int,
    allocatable: Mapping[str, Fraction] | None = None,
) -> list[str]:
    """Why ``pod`` cannot go to ``node`` right now; an empty list means it fits.

    ``allocatable`` may be passed pre-parsed (the scheduler caches it per node version).
    """
    if node.get("spec", {}).get("unschedulable"):
        tolerations = pod.get("spec", {}).get("tolerations") or []
        cordon = {"key": "node.kubernetes.io/unschedulable", "effect": "NoSchedule"}
        if not any(tolerates(t, cordon) for t in tolerations):
            return [NODE_UNSCHEDULABLE]
    taint = first_untolerated_taint(pod, node)
    if taint is not None:
        return [f"node(s) had untolerated taint {{{taint.get('key')}: {taint.get('value', '')}}}"]
    if not matches_node_selector_and_affinity(pod, node):
        return [NODE_AFFINITY_MISMATCH]
    if allocatable is None:
        allocatable = node_allocatable(node)
    return insufficient_resources(requests, allocatable, used, used_pods)


def unschedulable_message(node_count: int, reasons_per_node: Iterable[list[str]]) -> str:
    """The scheduler's summary: ``0/3 nodes are available: 1 Insufficient nvidia.com/gpu, 2
    node(s) didn't match Pod's node affinity/selector.`` (reasons counted, sorted by text)."""
    counts: Counter[str] = Counter()
    for reasons in reasons_per_node:
        counts.update(reasons)
    if node_count == 0:
        return "no nodes available to schedule pods"
    parts = sorted(f"{count} {reason}" for reason, count in counts.items())
    return f"0/{node_count} nodes are available: {', '.join(parts)}."


def pick_node(candidates: list[str], used_pods: Mapping[str, int]) -> str:
    """Among nodes that fit, spread: fewest bound pods first, then name for determinism."""
    return min(candidates, key=lambda name: (used_pods.get(name, 0), name))


__all__ = [
    "filter_reasons",
    "first_untolerated_taint",
    "insufficient_resources",
    "matches_node_selector_and_affinity",
    "node_allocatable",
    "pick_node",
    "pod_requests",
    "requirement_matches",
    "term_matches",
    "tolerates",
    "unschedulable_message",
]
