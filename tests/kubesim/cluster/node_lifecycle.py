"""Node lifecycle and taint-based eviction: what happens to pods on a node that is not Ready.

Two pieces of kube-controller-manager, as they behave together:

* the node lifecycle controller taints a node whose ``Ready`` condition is ``False`` with
  ``node.kubernetes.io/not-ready`` and one whose ``Ready`` is ``Unknown`` (or missing) with
  ``node.kubernetes.io/unreachable``, both ``NoSchedule`` and ``NoExecute`` (the NoExecute taint
  records ``timeAdded``), and removes them when the node is Ready again;
* the taint eviction controller deletes every pod on a node with a ``NoExecute`` taint the pod
  does not tolerate, after giving it the ``DisruptionTarget`` condition (reason
  ``DeletionByTaintManager``); a toleration with ``tolerationSeconds`` delays that until the
  taint is that old.

The emulator's API server runs without the ``DefaultTolerationSeconds`` admission plugin (as
with ``--disable-admission-plugins=DefaultTolerationSeconds``), so a pod without tolerations is
evicted as soon as its node is tainted instead of 300 s later. Nodes become NotReady only when
someone writes their status (``kubectl patch node --subresource=status``): nothing heartbeats.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

from .client import STRATEGIC_PATCH, ApiClient, ApiError, Informer, Obj, pod_path
from .job_conditions import now, parse_time
from .scheduling import tolerates

log = logging.getLogger(__name__)

NOT_READY_TAINT = "node.kubernetes.io/not-ready"
UNREACHABLE_TAINT = "node.kubernetes.io/unreachable"
EVICTION_REASON = "DeletionByTaintManager"
EVICTION_MESSAGE = "Taint manager: deleting due to NoExecute taint"
TERMINAL_PHASES = ("Succeeded", "Failed")


def readiness_taint_key(node: Obj) -> str | None:
    """Which condition taint the node should carry (None when it is Ready)."""
    for condition in node.get("status", {}).get("conditions") or []:
        if condition.get("type") == "Ready":
            status = condition.get("status")
            if status == "True":
                return None
            return NOT_READY_TAINT if status == "False" else UNREACHABLE_TAINT
    return UNREACHABLE_TAINT


def desired_taints(node: Obj) -> list[dict[str, Any]]:
    """The node's taints with the readiness taints made to match its Ready condition."""
    key = readiness_taint_key(node)
    current = list(node.get("spec", {}).get("taints") or [])
    kept = [t for t in current if t.get("key") not in (NOT_READY_TAINT, UNREACHABLE_TAINT)]
    if key is None:
        return kept
    existing = {(t.get("key"), t.get("effect")): t for t in current}
    for effect in ("NoSchedule", "NoExecute"):
        taint = existing.get((key, effect)) or {"key": key, "effect": effect}
        if effect == "NoExecute" and "timeAdded" not in taint:
            taint = {**taint, "timeAdded": now()}
        kept.append(dict(taint))
    return kept


def eviction_delay(pod: Obj, node: Obj) -> float | None:
    """Seconds until the pod must be evicted from ``node`` (0 = now), or None if never."""
    tolerations = pod.get("spec", {}).get("tolerations") or []
    delay: float | None = None
    for taint in node.get("spec", {}).get("taints") or []:
        if taint.get("effect") != "NoExecute":
            continue
        matching = [t for t in tolerations if tolerates(t, taint)]
        if not matching:
            return 0.0
        bounded = [float(t["tolerationSeconds"]) for t in matching if "tolerationSeconds" in t]
        if not bounded:
            continue  # tolerated forever
        added = parse_time(taint.get("timeAdded")) or time.time()
        remaining = max(0.0, added + max(0.0, min(bounded)) - time.time())
        delay = remaining if delay is None else min(delay, remaining)
    return delay


class NodeLifecycle:
    """Keeps readiness taints on nodes and evicts pods from nodes they cannot stay on."""

    def __init__(self, client: ApiClient) -> None:
        self.client = client
        self.nodes = Informer(client, "/api/v1/nodes", self._on_node, name="lifecycle/nodes")
        self.pods = Informer(client, "/api/v1/pods", self._on_pod, name="lifecycle/pods")
        self.queue: asyncio.Queue[str] = asyncio.Queue()
        self.queued: set[str] = set()
        self.timers: dict[str, asyncio.TimerHandle] = {}  # pod uid -> pending eviction

    def _enqueue(self, node: str) -> None:
        if node and node not in self.queued:
            self.queued.add(node)
            self.queue.put_nowait(node)

    def _on_node(self, kind: str, node: Obj, old: Obj | None) -> None:
        if kind != "DELETED":
            self._enqueue(node["metadata"]["name"])

    def _on_pod(self, kind: str, pod: Obj, old: Obj | None) -> None:
        if kind == "DELETED":
            timer = self.timers.pop(pod["metadata"].get("uid", ""), None)
            if timer is not None:
                timer.cancel()
            return
        self._enqueue(pod.get("spec", {}).get("nodeName") or "")

    async def sync(self, name: str) -> None:
        node = self.nodes.cache.get(name)
        if node is None:
            return
        taints = desired_taints(node)
        if taints != list(node.get("spec", {}).get("taints") or []):
            await self.client.patch(f"/api/v1/nodes/{name}", {"spec": {"taints": taints}})
            return  # the node's MODIFIED event brings us back with the new taints
        for pod in list(self.pods.cache.values()):
            if pod.get("spec", {}).get("nodeName") != name:
                continue
            if pod.get("status", {}).get("phase") in TERMINAL_PHASES:
                continue
            if pod["metadata"].get("deletionTimestamp"):
                continue
            delay = eviction_delay(pod, node)
            uid = pod["metadata"].get("uid", "")
            previous = self.timers.pop(uid, None)
            if previous is not None:
                previous.cancel()
            if delay == 0.0:
                await self._evict(pod)
            elif delay is not None:
                loop = asyncio.get_running_loop()
                self.timers[uid] = loop.call_later(delay + 0.01, self._enqueue, name)

    async def _evict(self, pod: Obj) -> None:
        meta = pod["metadata"]
        path = pod_path(meta["namespace"], meta["name"])
        condition = {
            "type": "DisruptionTarget",
            "status": "True",
            "reason": EVICTION_REASON,
            "message": EVICTION_MESSAGE,
            "lastProbeTime": None,
            "lastTransitionTime": now(),
        }
        log.info("evicting pod %s/%s: %s", meta["namespace"], meta["name"], EVICTION_MESSAGE)
        try:
            await self.client.patch(
                f"{path}/status", {"status": {"conditions": [condition]}}, STRATEGIC_PATCH
            )
            await self.client.delete(path)
        except ApiError as error:
            if error.status != 404:
                raise

    async def _worker(self) -> None:
        while True:
            name = await self.queue.get()
            self.queued.discard(name)
            try:
                await self.sync(name)
            except Exception:
                log.exception("node lifecycle: syncing node %s failed; retrying", name)
                await asyncio.sleep(0.5)
                self._enqueue(name)

    async def run(self) -> None:
        async with asyncio.TaskGroup() as group:
            group.create_task(self.nodes.run())
            await self.nodes.synced.wait()
            group.create_task(self.pods.run())
            await self.pods.synced.wait()
            group.create_task(self._worker())
