"""The scheduler: binds pending pods to nodes that fit, or reports why none does.

Like kube-scheduler it keeps an incremental view of each node's committed requests (pods bound
there that have not finished), "assumes" a pod onto its node as soon as the Binding succeeds so
the next decision already sees it, and parks pods that fit nowhere in an unschedulable set that
is retried only when something that could help happens: a bound pod finishes or is deleted, or
a node is added or changed. Per-event work is O(1) apart from that retry, and scheduling one pod
costs O(nodes).
"""

from __future__ import annotations

import asyncio
import logging
import secrets
from datetime import UTC, datetime
from typing import Any

from .client import ApiClient, ApiError, Informer, Obj, object_key, pod_path
from .quantities import Resources, add, subtract
from .scheduling import (
    filter_reasons,
    node_allocatable,
    pick_node,
    pod_requests,
    unschedulable_message,
)

log = logging.getLogger(__name__)

SCHEDULER_NAME = "default-scheduler"
TERMINAL_PHASES = ("Succeeded", "Failed")


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _wants_scheduling(pod: Obj) -> bool:
    spec, meta = pod.get("spec", {}), pod.get("metadata", {})
    return (
        not spec.get("nodeName")
        and (spec.get("schedulerName") or SCHEDULER_NAME) == SCHEDULER_NAME
        and not meta.get("deletionTimestamp")
        and pod.get("status", {}).get("phase") not in TERMINAL_PHASES
    )


def _holds_resources(pod: Obj) -> bool:
    return (
        bool(pod.get("spec", {}).get("nodeName"))
        and pod.get("status", {}).get("phase") not in TERMINAL_PHASES
    )


class Scheduler:
    """Watches nodes and pods; binds each schedulable pod to a feasible node."""

    def __init__(self, client: ApiClient) -> None:
        self.client = client
        self.nodes = Informer(client, "/api/v1/nodes", self._on_node, name="scheduler/nodes")
        self.pods = Informer(client, "/api/v1/pods", self._on_pod, name="scheduler/pods")
        # Committed resources per node, and which pod (by uid) holds what where.
        self.used: dict[str, Resources] = {}
        self.used_pods: dict[str, int] = {}
        self.holdings: dict[str, tuple[str, Resources]] = {}
        self.queue: asyncio.Queue[str] = asyncio.Queue()
        self.queued: set[str] = set()
        self.unschedulable: set[str] = set()
        self.last_message: dict[str, str] = {}
        self.allocatable: dict[str, Resources] = {}  # parsed once per node version

    # ---- accounting -------------------------------------------------------------------------

    def _hold(self, uid: str, node: str, requests: Resources) -> None:
        if uid in self.holdings:
            return
        self.holdings[uid] = (node, requests)
        add(self.used.setdefault(node, {}), requests)
        self.used_pods[node] = self.used_pods.get(node, 0) + 1

    def _release(self, uid: str) -> bool:
        held = self.holdings.pop(uid, None)
        if held is None:
            return False
        node, requests = held
        subtract(self.used.setdefault(node, {}), requests)
        self.used_pods[node] = max(0, self.used_pods.get(node, 0) - 1)
        return True

    # ---- event handlers ---------------------------------------------------------------------

    def _enqueue(self, key: str) -> None:
        if key not in self.queued:
            self.queued.add(key)
            self.queue.put_nowait(key)

    def _retry_unschedulable(self) -> None:
        for key in self.unschedulable:
            self._enqueue(key)
        self.unschedulable.clear()

    def _on_node(self, kind: str, node: Obj, old: Obj | None) -> None:
        name = node.get("metadata", {}).get("name", "")
        if kind == "DELETED":
            self.allocatable.pop(name, None)
        else:
            self.allocatable[name] = node_allocatable(node)
        if (
            kind == "MODIFIED"
            and old is not None
            and _node_scheduling_view(old) == _node_scheduling_view(node)
        ):
            return  # heartbeats and status noise cannot make a pod fit
        self._retry_unschedulable()

    def _on_pod(self, kind: str, pod: Obj, old: Obj | None) -> None:
        uid = pod.get("metadata", {}).get("uid", "")
        key = object_key(pod)
        finished = pod.get("status", {}).get("phase") in TERMINAL_PHASES
        if kind == "DELETED" or finished:
            freed = self._release(uid)
            if kind == "DELETED":
                self.unschedulable.discard(key)
                self.last_message.pop(key, None)
            if freed:
                self._retry_unschedulable()
        elif _holds_resources(pod):
            self._hold(uid, pod["spec"]["nodeName"], pod_requests(pod))
        # else: unbound and pending. An event from before our Binding landed must not drop the
        # resources we assumed for the pod (that would let the next pod overcommit the node).
        if (
            kind != "DELETED"
            and _wants_scheduling(pod)
            and key not in self.unschedulable
            and uid not in self.holdings
        ):
            self._enqueue(key)

    # ---- scheduling -------------------------------------------------------------------------

    async def _schedule(self, key: str) -> None:
        pod = self.pods.cache.get(key)
        if pod is None or not _wants_scheduling(pod):
            return
        uid = pod["metadata"].get("uid", "")
        if uid in self.holdings:
            return  # bound by us already; the watch has not caught up with the binding yet
        requests = pod_requests(pod)
        nodes = list(self.nodes.cache.values())
        feasible: list[str] = []
        reasons: list[list[str]] = []
        for node in nodes:
            name = node["metadata"]["name"]
            why = filter_reasons(
                pod,
                node,
                requests,
                self.used.get(name, {}),
                self.used_pods.get(name, 0),
                self.allocatable.get(name),
            )
            if why:
                reasons.append(why)
            else:
                feasible.append(name)
        if not feasible:
            await self._report_unschedulable(key, pod, unschedulable_message(len(nodes), reasons))
            return
        target = pick_node(feasible, self.used_pods)
        self._hold(uid, target, requests)  # assume before the watch confirms
        namespace, name = pod["metadata"]["namespace"], pod["metadata"]["name"]
        binding = {
            "apiVersion": "v1",
            "kind": "Binding",
            "metadata": {"name": name, "namespace": namespace, "uid": uid},
            "target": {"apiVersion": "v1", "kind": "Node", "name": target},
        }
        try:
            await self.client.create(pod_path(namespace, name, "binding"), binding)
            self.last_message.pop(key, None)
            log.debug("bound %s to %s", key, target)
        except ApiError as error:
            self._release(uid)
            if error.status in (404, 409):
                log.debug("binding %s failed: %s", key, error)  # deleted or already bound
                return
            raise

    async def _report_unschedulable(self, key: str, pod: Obj, message: str) -> None:
        """Park the pod, set PodScheduled=False/Unschedulable and emit FailedScheduling once per
        distinct message (a real scheduler repeats it with backoff; once keeps logs readable)."""
        self.unschedulable.add(key)
        if self.last_message.get(key) == message:
            return
        self.last_message[key] = message
        namespace, name = pod["metadata"]["namespace"], pod["metadata"]["name"]
        now = _now()
        existing = pod.get("status", {}).get("conditions") or []
        conditions = [c for c in existing if c.get("type") != "PodScheduled"]
        conditions.append(
            {
                "type": "PodScheduled",
                "status": "False",
                "reason": "Unschedulable",
                "message": message,
                "lastProbeTime": None,
                "lastTransitionTime": now,
            }
        )
        log.info("pod %s unschedulable: %s", key, message)
        try:
            await self.client.patch(
                pod_path(namespace, name, "status"),
                {"status": {"phase": "Pending", "conditions": conditions}},
            )
            await self.client.create(
                f"/api/v1/namespaces/{namespace}/events",
                _event(pod, "Warning", "FailedScheduling", message, now),
            )
        except ApiError as error:
            if error.status != 404:
                raise

    async def _worker(self) -> None:
        while True:
            key = await self.queue.get()
            self.queued.discard(key)
            try:
                await self._schedule(key)
            except Exception:
                log.exception("scheduling %s failed; will retry", key)
                await asyncio.sleep(0.5)
                self._enqueue(key)

    async def run(self) -> None:
        """Run until cancelled. One worker keeps decisions sequential, so two pods can never be
        assumed onto the same last free GPU."""
        async with asyncio.TaskGroup() as group:
            group.create_task(self.nodes.run())
            await self.nodes.synced.wait()
            group.create_task(self.pods.run())
            await self.pods.synced.wait()
            group.create_task(self._worker())


def _node_scheduling_view(node: Obj) -> Any:
    return (
        node.get("metadata", {}).get("labels"),
        node.get("spec"),
        node.get("status", {}).get("allocatable"),
        node.get("status", {}).get("capacity"),
    )


def _event(pod: Obj, kind: str, reason: str, message: str, now: str) -> Obj:
    """A core/v1 Event about ``pod`` from the default scheduler."""
    meta = pod["metadata"]
    return {
        "apiVersion": "v1",
        "kind": "Event",
        "metadata": {
            "name": f"{meta['name']}.{secrets.token_hex(8)}",
            "namespace": meta["namespace"],
        },
        "involvedObject": {
            "apiVersion": "v1",
            "kind": "Pod",
            "name": meta["name"],
            "namespace": meta["namespace"],
            "uid": meta.get("uid"),
            "resourceVersion": meta.get("resourceVersion"),
        },
        "reason": reason,
        "message": message,
        "type": kind,
        "source": {"component": SCHEDULER_NAME},
        "reportingComponent": SCHEDULER_NAME,
        "reportingInstance": SCHEDULER_NAME,
        "firstTimestamp": now,
        "lastTimestamp": now,
        "count": 1,
        "action": "Scheduling",
    }
