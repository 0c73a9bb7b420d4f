"""Fault injection and the request log, behind the private ``/_kubesim/`` control API.

Reliability tests make the next N matching requests fail (500, 429 + Retry-After, 409, ...),
add latency, or drop open watch streams; RBAC tests and benchmarks read back every request with
its Kubernetes verb, resource and status. Requests to ``/_kubesim/`` are never logged or
faulted. The emulator's own controllers identify themselves as ``kubesim-controller/...``.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import re
import time
from collections import deque
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

from aiohttp import web

from .errors import REASONS, status_body
from .request_info import RequestInfo
from .store import Store

log = logging.getLogger(__name__)

CONTROL_PREFIX = "/_kubesim/"


@dataclass
class FaultRule:
    """Match fields are all optional; an empty rule matches every API request."""

    id: int
    status: int | None = None  # None: latency only
    count: int = 1  # remaining matches; -1 = unlimited
    method: str | None = None
    path_regex: str | None = None
    verb: str | None = None
    group: str | None = None
    resource: str | None = None
    subresource: str | None = None
    namespace: str | None = None
    name: str | None = None
    user_agent_regex: str | None = None
    retry_after: int | None = None
    latency_ms: float = 0
    message: str | None = None
    hits: int = 0

    def matches(self, method: str, path: str, info: RequestInfo, user_agent: str) -> bool:
        checks = (
            (self.method, lambda v: v.upper() == method.upper()),
            (self.path_regex, lambda v: re.search(v, path) is not None),
            (self.verb, lambda v: v == info.verb),
            (self.group, lambda v: v == info.group),
            (self.resource, lambda v: v == info.resource),
            (self.subresource, lambda v: v == info.subresource),
            (self.namespace, lambda v: v == info.namespace),
            (self.name, lambda v: v == info.name),
            (self.user_agent_regex, lambda v: re.search(v, user_agent) is not None),
        )
        return all(want is None or test(want) for want, test in checks)


@dataclass
class Faults:
    """Active rules plus the bounded request log."""

    rules: list[FaultRule] = field(default_factory=list)
    log_size: int = 200000
    requests: deque[dict[str, Any]] = field(default_factory=deque)
    _ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1))
    _seq: itertools.count[int] = field(default_factory=lambda: itertools.count(1))
    restarts: int = 0  # API server restarts so far (POST /_kubesim/restart)

    def add(self, spec: dict[str, Any]) -> FaultRule:
        known = set(FaultRule.__dataclass_fields__) - {"id", "hits"}
        unknown = set(spec) - known
        if unknown:
            raise ValueError(f"unknown fault fields: {sorted(unknown)}")
        rule = FaultRule(id=next(self._ids), **spec)
        self.rules.append(rule)
        return rule

    def match(
        self, method: str, path: str, info: RequestInfo, user_agent: str
    ) -> tuple[float, FaultRule | None]:
        """(total injected latency in ms, the first matching failure rule or None).

        Latency-only rules all apply; of the failure rules only the first match fires. Each
        rule that acted uses up one of its ``count`` and disappears at zero."""
        latency, failure = 0.0, None
        for rule in list(self.rules):
            if rule.count == 0 or not rule.matches(method, path, info, user_agent):
                continue
            if rule.status is not None and failure is not None:
                continue
            rule.hits += 1
            latency += rule.latency_ms
            if rule.status is not None:
                failure = rule
            if rule.count > 0:
                rule.count -= 1
                if rule.count == 0:
                    self.rules.remove(rule)
        return latency, failure

    def record(self, request: web.Request, info: RequestInfo) -> dict[str, Any]:
        entry = {
            "seq": next(self._seq),
            "time": time.time(),
            "method": request.method,
            "path": request.path,
            "query": request.query_string,
            "verb": info.verb,
            "apiGroup": info.group,
            "apiVersion": info.version,
            "resource": info.resource,
            "subresource": info.subresource,
            "namespace": info.namespace,
            "name": info.name,
            "userAgent": request.headers.get("User-Agent", ""),
            "code": None,
            "isResourceRequest": info.is_resource,
        }
        if len(self.requests) >= self.log_size:
            self.requests.popleft()
        self.requests.append(entry)
        return entry


def fault_response(rule: FaultRule) -> web.Response:
    assert rule.status is not None
    message = rule.message or f"kubesim injected fault {rule.id}"
    headers = {}
    if rule.retry_after is not None:
        headers["Retry-After"] = str(rule.retry_after)
    details = {"retryAfterSeconds": rule.retry_after} if rule.retry_after is not None else None
    body = status_body(rule.status, message, REASONS.get(rule.status, ""), details)
    return web.json_response(body, status=rule.status, headers=headers)


def control_routes(
    faults: Faults, store: Store, restart: Callable[[float], None] | None = None
) -> web.RouteTableDef:
    """The private control API (see harness.KubeSim for the client side)."""
    routes = web.RouteTableDef()

    @routes.get("/_kubesim/faults")
    async def list_faults(request: web.Request) -> web.Response:
        return web.json_response({"items": [asdict(r) for r in faults.rules]})

    @routes.post("/_kubesim/faults")
    async def add_fault(request: web.Request) -> web.Response:
        try:
            rule = faults.add(await request.json())
        except (ValueError, TypeError) as exc:
            return web.json_response({"error": str(exc)}, status=400)
        return web.json_response(asdict(rule), status=201)

    @routes.delete("/_kubesim/faults")
    async def clear_faults(request: web.Request) -> web.Response:
        faults.rules.clear()
        return web.json_response({"items": []})

    @routes.delete("/_kubesim/faults/{id}")
    async def delete_fault(request: web.Request) -> web.Response:
        wanted = int(request.match_info["id"])
        faults.rules[:] = [r for r in faults.rules if r.id != wanted]
        return web.json_response({})

    @routes.get("/_kubesim/requests")
    async def list_requests(request: web.Request) -> web.Response:
        since = int(request.query.get("since", "0"))
        items = [e for e in faults.requests if e["seq"] > since]
        last = faults.requests[-1]["seq"] if faults.requests else since
        return web.json_response({"items": items, "last": last})

    @routes.delete("/_kubesim/requests")
    async def clear_requests(request: web.Request) -> web.Response:
        faults.requests.clear()
        return web.json_response({})

    @routes.post("/_kubesim/watches/drop")
    async def drop_watches(request: web.Request) -> web.Response:
        spec = await request.json() if request.can_read_body else {}
        dropped = 0
        for watcher in store.watchers():
            tags = watcher.tags
            if spec.get("resource") and tags.get("resource") != spec["resource"]:
                continue
            if spec.get("group") is not None and tags.get("group") != spec["group"]:
                continue
            if spec.get("namespace") and tags.get("namespace") != spec["namespace"]:
                continue
            if spec.get("user_agent_regex") and not re.search(
                spec["user_agent_regex"], tags.get("userAgent", "")
            ):
                continue
            tags["abort"] = "true" if spec.get("abort") else "false"
            store.unsubscribe(watcher)
            watcher.close()
            dropped += 1
        return web.json_response({"dropped": dropped})

    @routes.get("/_kubesim/watches")
    async def list_watches(request: web.Request) -> web.Response:
        return web.json_response({"items": [w.tags for w in store.watchers()]})

    @routes.post("/_kubesim/compact")
    async def compact(request: web.Request) -> web.Response:
        store.compact()
        return web.json_response({"resourceVersion": str(store.rv)})

    @routes.post("/_kubesim/restart")
    async def restart_api(request: web.Request) -> web.Response:
        if restart is None:
            return web.json_response({"error": "this server cannot restart itself"}, status=400)
        spec = await request.json() if request.can_read_body else {}
        downtime = float(spec.get("downtime_seconds", 0.5))
        # Answer first: the restart resets every connection, this one included.
        asyncio.get_running_loop().call_later(0.05, restart, downtime)
        return web.json_response({"resourceVersion": str(store.rv)}, status=202)

    @routes.get("/_kubesim/state")
    async def state(request: web.Request) -> web.Response:
        counts = {f"{p}.{g}" if g else p: store.count((g, p)) for g, p in store.resources()}
        return web.json_response(
            {
                "resourceVersion": str(store.rv),
                "counts": counts,
                "watches": len(store.watchers()),
                "restarts": faults.restarts,
            }
        )

    return routes


async def apply_latency(latency_ms: float) -> None:
    if latency_ms > 0:
        await asyncio.sleep(latency_ms / 1000)
