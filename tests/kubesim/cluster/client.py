"""A small asyncio Kubernetes API client and informer for the emulated controllers.

The controllers talk to the emulator's API server over plain HTTP exactly as the real
kube-controller-manager, kube-scheduler and kubelet do (list + watch, create, bind, patch
status, delete), so the operator under test sees the same request/watch traffic it would see on
a cluster. Each component gets its own :class:`ApiClient` so its ``User-Agent``
(``kubesim-controller/<component>``) tells its requests apart in the server's request log.

Retries: 429 and 5xx answers and connection errors are retried with capped exponential backoff,
honouring ``Retry-After``; everything else raises :class:`ApiError` at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import AsyncIterator, Callable, Mapping
from typing import Any
from urllib.parse import quote

import aiohttp

log = logging.getLogger(__name__)

Obj = dict[str, Any]
MERGE_PATCH = "application/merge-patch+json"
STRATEGIC_PATCH = "application/strategic-merge-patch+json"
RETRY_ATTEMPTS = 8
RETRY_CAP_SECONDS = 2.0


class ApiError(Exception):
    """A non-retryable error answer from the API server."""

    def __init__(self, status: int, body: Any, method: str, path: str) -> None:
        message = body.get("message") if isinstance(body, dict) else str(body)[:300]
        super().__init__(f"{method} {path}: {status} {message}")
        self.status = status
        self.body = body

    @property
    def reason(self) -> str:
        """The ``Status.reason`` (``NotFound``, ``Conflict``, ``Expired``...), if any."""
        return str(self.body.get("reason", "")) if isinstance(self.body, dict) else ""


class WatchExpired(Exception):
    """The watch resourceVersion is too old (410 Gone): the informer must re-list."""


def object_key(obj: Mapping[str, Any]) -> str:
    """``namespace/name`` (or ``name`` for cluster-scoped objects), as client-go keys them."""
    meta = obj.get("metadata", {})
    namespace = meta.get("namespace")
    return f"{namespace}/{meta.get('name')}" if namespace else str(meta.get("name"))


def pod_path(namespace: str, name: str = "", sub: str = "") -> str:
    """``/api/v1/namespaces/{ns}/pods[/{name}[/{sub}]]``."""
    path = f"/api/v1/namespaces/{quote(namespace)}/pods"
    if name:
        path += f"/{quote(name)}"
    if sub:
        path += f"/{sub}"
    return path


def job_path(namespace: str, name: str = "", sub: str = "") -> str:
    """``/apis/batch/v1/namespaces/{ns}/jobs[/{name}[/{sub}]]``."""
    path = f"/apis/batch/v1/namespaces/{quote(namespace)}/jobs"
    if name:
        path += f"/{quote(name)}"
    if sub:
        path += f"/{sub}"
    return path


class ApiClient:
    """One component's connection to the API server (aiohttp session with keep-alive)."""

    def __init__(self, api_url: str, component: str) -> None:
        self.api_url = api_url.rstrip("/")
        self.component = component
        self._session: aiohttp.ClientSession | None = None

    @property
    def session(self) -> aiohttp.ClientSession:
        """The session, created lazily inside the running loop (aiohttp requires that)."""
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(
                headers={
                    "User-Agent": f"kubesim-controller/{self.component}",
                    "Accept": "application/json",
                },
                connector=aiohttp.TCPConnector(limit=64),
                timeout=aiohttp.ClientTimeout(total=None, sock_connect=10),
            )
        return self._session

    async def close(self) -> None:
        """Close the HTTP session (and with it any open watch streams)."""
        if self._session is not None:
            await self._session.close()

    async def request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, str] | None = None,
        body: Any = None,
        content_type: str = "application/json",
        timeout: float = 30.0,
    ) -> Any:
        """Send one request, retrying throttling/server errors; return the decoded JSON body."""
        data = None if body is None else json.dumps(body)
        headers = {"Content-Type": content_type} if body is not None else {}
        delay = 0.1
        for attempt in range(RETRY_ATTEMPTS):
            retry_after: float | None = None
            try:
                async with self.session.request(
                    method,
                    self.api_url + path,
                    params=params,
                    data=data,
                    headers=headers,
                    timeout=aiohttp.ClientTimeout(total=timeout),
                ) as response:
                    text = await response.text()
                    status = response.status
                    if status < 400:
                        return json.loads(text) if text else None
                    if status != 429 and status < 500:
                        try:
                            decoded: Any = json.loads(text)
                        except ValueError:
                            decoded = text
                        raise ApiError(status, decoded, method, path)
                    with contextlib.suppress(ValueError):
                        retry_after = float(response.headers.get("Retry-After", ""))
                    log.debug("%s %s -> %s, retrying", method, path, status)
                    if attempt == RETRY_ATTEMPTS - 1:
                        raise ApiError(status, text, method, path)
            except (TimeoutError, aiohttp.ClientConnectionError) as error:
                if attempt == RETRY_ATTEMPTS - 1:
                    raise
                log.debug("%s %s failed (%s), retrying", method, path, error)
            await asyncio.sleep(min(retry_after if retry_after is not None else delay, 5.0))
            delay = min(delay * 2, RETRY_CAP_SECONDS)
        raise AssertionError("unreachable")

    async def get(self, path: str) -> Obj:
        """GET one object."""
        return await self.request("GET", path)  # type: ignore[no-any-return]

    async def create(self, path: str, body: Obj) -> Obj:
        """POST a new object to a collection path."""
        return await self.request("POST", path, body=body)  # type: ignore[no-any-return]

    async def patch(self, path: str, patch: Obj, content_type: str = MERGE_PATCH) -> Obj:
        """JSON merge patch (RFC 7386) by default: lists in ``patch`` replace the stored lists
        whole; ``STRATEGIC_PATCH`` merges keyed lists (pod conditions by type) instead."""
        return await self.request(  # type: ignore[no-any-return]
            "PATCH", path, body=patch, content_type=content_type
        )

    async def delete(self, path: str, propagation: str | None = None) -> Any:
        """DELETE an object; a 404 counts as success (it is already gone)."""
        params = {"propagationPolicy": propagation} if propagation else None
        body = (
            {"kind": "DeleteOptions", "apiVersion": "v1", "propagationPolicy": propagation}
            if propagation
            else None
        )
        try:
            return await self.request("DELETE", path, params=params, body=body)
        except ApiError as error:
            if error.status == 404:
                return None
            raise

    async def list(
        self, path: str, params: Mapping[str, str] | None = None
    ) -> tuple[list[Obj], str]:
        """LIST a collection: its items and the list's resourceVersion to watch from."""
        result = await self.request("GET", path, params=params, timeout=120.0)
        return list(result.get("items") or []), str(
            result.get("metadata", {}).get("resourceVersion", "")
        )

    async def watch(
        self, path: str, resource_version: str, params: Mapping[str, str] | None = None
    ) -> AsyncIterator[tuple[str, Obj]]:
        """Stream ``(type, object)`` watch events until the server ends the stream.

        Raises :class:`WatchExpired` on 410 Gone (as an HTTP status or an ERROR event).
        The body is newline-delimited JSON; lines are split here rather than with aiohttp's
        ``readline`` so a very large object cannot trip its line-length limit.
        """
        query = {
            **(params or {}),
            "watch": "true",
            "resourceVersion": resource_version,
            "allowWatchBookmarks": "true",
        }
        async with self.session.get(
            self.api_url + path,
            params=query,
            timeout=aiohttp.ClientTimeout(total=None, sock_connect=10, sock_read=None),
        ) as response:
            if response.status == 410:
                raise WatchExpired(path)
            if response.status >= 400:
                text = await response.text()
                raise ApiError(response.status, text, "WATCH", path)
            buffer = b""
            async for chunk in response.content.iter_any():
                buffer += chunk
                while b"\n" in buffer:
                    line, buffer = buffer.split(b"\n", 1)
                    if not line.strip():
                        continue
                    event = json.loads(line)
                    kind, obj = event.get("type", ""), event.get("object") or {}
                    if kind == "ERROR":
                        if obj.get("code") == 410:
                            raise WatchExpired(path)
                        raise ApiError(int(obj.get("code") or 500), obj, "WATCH", path)
                    yield kind, obj


Handler = Callable[[str, Obj, Obj | None], None]


class Informer:
    """List+watch one collection into a local cache and call ``handler`` for every change.

    ``handler(event_type, new_or_deleted_object, old_object_or_None)`` runs synchronously in the
    loop and must only do O(1) bookkeeping and enqueue work. On a re-list (410 Gone, or a watch
    that failed), differences against the cache are replayed as synthetic events, including
    DELETED for objects that vanished meanwhile, so controllers never miss a deletion.
    """

    def __init__(
        self,
        client: ApiClient,
        path: str,
        handler: Handler,
        *,
        params: Mapping[str, str] | None = None,
        name: str = "",
    ) -> None:
        self.client = client
        self.path = path
        self.handler = handler
        self.params = dict(params or {})
        self.name = name or path
        self.cache: dict[str, Obj] = {}
        self.synced = asyncio.Event()
        self._resource_version = ""

    def _dispatch(self, kind: str, obj: Obj, old: Obj | None) -> None:
        try:
            self.handler(kind, obj, old)
        except Exception:
            log.exception("%s: handler failed on %s %s", self.name, kind, object_key(obj))

    def _apply(self, kind: str, obj: Obj) -> None:
        rv = obj.get("metadata", {}).get("resourceVersion")
        if kind == "BOOKMARK":
            if rv:
                self._resource_version = str(rv)
            return
        key = object_key(obj)
        if kind == "DELETED":
            old = self.cache.pop(key, None)
            self._dispatch("DELETED", obj, old)
        elif kind in ("ADDED", "MODIFIED"):
            old = self.cache.get(key)
            self.cache[key] = obj
            self._dispatch("ADDED" if old is None else "MODIFIED", obj, old)
        if rv:
            self._resource_version = str(rv)

    async def _relist(self) -> None:
        items, rv = await self.client.list(self.path, self.params)
        fresh = {object_key(item): item for item in items}
        for key in list(self.cache):
            if key not in fresh:
                gone = self.cache.pop(key)
                self._dispatch("DELETED", gone, gone)
        for key, item in fresh.items():
            old = self.cache.get(key)
            old_rv = (old or {}).get("metadata", {}).get("resourceVersion")
            if old is None or old_rv != item.get("metadata", {}).get("resourceVersion"):
                self.cache[key] = item
                self._dispatch("ADDED" if old is None else "MODIFIED", item, old)
        self._resource_version = rv
        self.synced.set()

    async def run(self) -> None:
        """Run forever (until cancelled): list, then watch, re-listing when the watch expires."""
        need_list = True
        failures = 0
        loop = asyncio.get_running_loop()
        while True:
            try:
                if need_list:
                    await self._relist()
                    need_list = False
                opened, events = loop.time(), 0
                async for kind, obj in self.client.watch(
                    self.path, self._resource_version, self.params
                ):
                    self._apply(kind, obj)
                    events += 1
                    failures = 0
                # A normal end of stream: resume from the last resourceVersion seen, but do
                # not spin if the server keeps closing streams at once.
                if events == 0 and loop.time() - opened < 0.5:
                    await asyncio.sleep(0.5)
            except asyncio.CancelledError:
                raise
            except WatchExpired:
                log.debug("%s: watch expired, re-listing", self.name)
                need_list = True
            except Exception as error:
                failures += 1
                need_list = True
                log.warning("%s: list/watch failed (%s); retrying", self.name, error)
                await asyncio.sleep(min(0.2 * 2**failures, 5.0))
