"""One run of the API server half: load the state directory, seed, serve; close like a crash.

``python -m tests.kubesim`` runs one :class:`ApiServer` and, on ``POST /_kubesim/restart``,
closes it and starts another from the same state directory on the same port, while the cluster
half (Job controller, scheduler, kubelet) keeps running: restarting a real kube-apiserver kills
no pod, and its controllers and kubelets are only clients that reconnect. What a new run keeps
is what etcd keeps (every object, uid and resourceVersion, see ``persistence.py``); what it
loses is what lives in the apiserver process: open connections and watches, and the watch
cache's history (a resume from before the restart gets 410 Gone).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from aiohttp import web

from .api import Api
from .faults import Faults
from .persistence import Persistence
from .rbac import bootstrap_policy
from .server import Server
from .store import Store

log = logging.getLogger(__name__)

SEED_NAMESPACES = ("default", "kube-system", "kube-public", "kube-node-lease")
BIND_RETRY_SECONDS = 10.0


def _ensure(api: Api, group: str, plural: str, obj: dict[str, Any]) -> None:
    """Create a seed object unless the loaded state has it (as the apiserver reconciles its
    bootstrap objects on every start without touching existing ones)."""
    rt = api.registry.get(group, "v1", plural)
    assert rt is not None
    if api.store.get(rt.group_resource, "", obj["metadata"]["name"]) is None:
        api.create(rt, None, obj)


def seed(api: Api, nodes: list[dict[str, Any]]) -> None:
    """The namespaces, bootstrap RBAC and Node objects a fresh cluster has."""
    for name in SEED_NAMESPACES:
        _ensure(api, "", "namespaces", {"metadata": {"name": name}})
    roles, bindings = bootstrap_policy()
    for plural, objects in (("clusterroles", roles), ("clusterrolebindings", bindings)):
        for obj in objects:
            _ensure(api, "rbac.authorization.k8s.io", plural, obj)
    for node in nodes:
        _ensure(api, "", "nodes", node)


class ApiServer:
    """The store (from disk), the :class:`Api` over it and the HTTP site serving it."""

    def __init__(
        self,
        state_dir: Path,
        faults: Faults,
        history_size: int,
        restart: Callable[[float], None] | None = None,
    ) -> None:
        self.persistence = Persistence(state_dir / "store")
        store = Store(history_size=history_size)
        self.loaded = self.persistence.load(store)
        self.api = Api(store, signing_key=self.persistence.signing_key())
        self.api.resume()
        self.persistence.attach(store)
        # The request log and fault rules belong to the test harness, not to the apiserver
        # process: they carry over a restart so tests can count requests across it.
        self.server = Server(self.api, state_dir, faults, restart=restart)
        self.runner = web.AppRunner(
            self.server.app, access_log=None, handler_cancellation=True, shutdown_timeout=2.0
        )
        self.site: web.TCPSite | None = None
        self.port = 0

    async def start(self, port: int) -> ApiServer:
        """Serve on ``port`` (0: any). A restart binds its predecessor's port, which sits in the
        ephemeral range: a client's outgoing connection may hold it for a moment, so retry."""
        await self.runner.setup()
        deadline = time.monotonic() + BIND_RETRY_SECONDS
        while True:
            self.site = web.TCPSite(self.runner, "127.0.0.1", port, backlog=1024)
            try:
                await self.site.start()
                break
            except OSError as error:
                if not port or time.monotonic() > deadline:
                    raise
                log.warning("port %d busy (%s); retrying", port, error)
                await asyncio.sleep(0.2)
        # aiohttp has no public accessor for the port it bound when asked for port 0.
        sockets = getattr(self.site._server, "sockets", None) or []
        self.port = int(sockets[0].getsockname()[1])
        self.server.server_address = f"127.0.0.1:{self.port}"
        return self

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def close(self) -> None:
        """Stop as a killed process would: stop listening, reset every connection, and only
        then stop writing to disk, so no answer reaches a client for a write that is lost."""
        if self.site is not None:
            await self.site.stop()
        for watcher in self.api.store.watchers():
            watcher.tags["abort"] = "true"
            watcher.close()
        handler_server = self.runner.server
        for handler in handler_server.connections if handler_server is not None else []:
            if handler.transport is not None:
                handler.transport.abort()
        self.persistence.close()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self.runner.cleanup(), timeout=5)
