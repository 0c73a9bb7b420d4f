"""Start the operator: kopf's reactor plus the health and readiness endpoints, in one loop."""

from __future__ import annotations

import asyncio
import logging
import os
import threading
from collections.abc import Sequence

import kopf
from aiohttp import web

from kubetune.operator.clients import load_clients
from kubetune.operator.context import OperatorContext

log = logging.getLogger(__name__)


async def _serve_probes(ready: threading.Event, port: int) -> web.AppRunner:
    """``/healthz``: the event loop answers. ``/readyz``: kopf's caches are warm."""

    async def healthz(_: web.Request) -> web.Response:
        return web.Response(text="ok")

    async def readyz(_: web.Request) -> web.Response:
        if ready.is_set():
            return web.Response(text="ok")
        return web.Response(status=503, text="starting")

    app = web.Application()
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/readyz", readyz)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "0.0.0.0", port).start()  # probes come from the kubelet
    return runner


async def _main(namespaces: Sequence[str], health_port: int | None, kubeconfig: str | None) -> None:
    import kubetune.operator.main  # noqa: F401  (registers the handlers)

    ready = threading.Event()
    runner = await _serve_probes(ready, health_port) if health_port is not None else None
    context = OperatorContext(clients=load_clients(kubeconfig))
    try:
        await kopf.operator(
            standalone=True,
            clusterwide=not namespaces,
            namespaces=list(namespaces),
            ready_flag=ready,
            memo=context,
        )
    finally:
        if runner is not None:
            await runner.cleanup()


def run_operator(
    namespaces: Sequence[str] = (),
    health_port: int | None = 8080,
    kubeconfig: str | None = None,
    log_format: str = "plain",
    verbose: bool = False,
) -> None:
    """Run until interrupted. No namespaces means all of them."""
    if kubeconfig:
        os.environ["KUBECONFIG"] = kubeconfig  # kopf's own login reads it
    kopf.configure(
        verbose=verbose,
        log_format=kopf.LogFormat.JSON if log_format == "json" else kopf.LogFormat.FULL,
    )
    asyncio.run(_main(namespaces, health_port, kubeconfig))
