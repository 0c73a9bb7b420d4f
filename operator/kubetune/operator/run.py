"""Start the operator: kopf's reactor plus the health and readiness endpoints, in one loop."""

from __future__ import annotations

import asyncio
import logging
import os
import threading
from collections.abc import Sequence

import kopf
from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from kubetune.operator.clients import load_clients
from kubetune.operator.context import OperatorContext
from kubetune.operator.metrics import OperatorMetrics
from kubetune.runtime.kubernetes.retention import JobRetention

log = logging.getLogger(__name__)


async def _serve_probes(
    ready: threading.Event, port: int, metrics: OperatorMetrics | None = None
) -> web.AppRunner:
    """``/healthz``: the event loop answers. ``/readyz``: kopf's caches are warm.
    ``/metrics``: the operator's own metrics, in Prometheus' text format."""

    async def healthz(_: web.Request) -> web.Response:
        return web.Response(text="ok")

    async def readyz(_: web.Request) -> web.Response:
        if ready.is_set():
            return web.Response(text="ok")
        return web.Response(status=503, text="starting")

    async def prometheus_metrics(_: web.Request) -> web.Response:
        assert metrics is not None
        body = generate_latest(metrics.registry)
        response = web.Response(body=body)
        response.headers["Content-Type"] = CONTENT_TYPE_LATEST
        return response

    app = web.Application()
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/readyz", readyz)
    if metrics is not None:
        app.router.add_get("/metrics", prometheus_metrics)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "0.0.0.0", port).start()  # probes come from the kubelet
    return runner


async def _main(
    namespaces: Sequence[str],
    health_port: int | None,
    kubeconfig: str | None,
    retention: JobRetention | None = None,
) -> None:
    import kubetune.operator.main  # noqa: F401  (registers the handlers)

    ready = threading.Event()
    metrics = OperatorMetrics()
    runner = await _serve_probes(ready, health_port, metrics) if health_port is not None else None
    context = OperatorContext(
        clients=load_clients(kubeconfig), retention=retention, metrics=metrics
    )
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
    retention: JobRetention | None = None,
) -> None:
    """Run until interrupted. No namespaces means all of them. ``retention``: how finished
    trial Jobs are cleaned up (None keeps them)."""
    if kubeconfig:
        os.environ["KUBECONFIG"] = kubeconfig  # kopf's own login reads it
    kopf.configure(
        verbose=verbose,
        log_format=kopf.LogFormat.JSON if log_format == "json" else kopf.LogFormat.FULL,
    )
    asyncio.run(_main(namespaces, health_port, kubeconfig, retention))
