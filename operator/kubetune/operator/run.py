"""Start the operator: kopf's reactor plus the health and readiness endpoints, in one loop."""

from __future__ import annotations

import asyncio
import logging
import os
import threading
from collections.abc import Sequence
from dataclasses import dataclass

import kopf
from aiohttp import web
from kubernetes import client
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from kubetune.operator.clients import api_client, load_clients, own_namespace
from kubetune.operator.context import OperatorContext
from kubetune.operator.leader import DEFAULT_LEASE_NAME, LeaderElector, default_identity
from kubetune.operator.metrics import OperatorMetrics
from kubetune.runtime.kubernetes.retention import JobRetention

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class LeaseOptions:
    """The Lease that elects the active operator; namespace None: the operator's own."""

    name: str = DEFAULT_LEASE_NAME
    namespace: str | None = None


async def _serve_probes(
    ready: threading.Event,
    port: int,
    metrics: OperatorMetrics | None = None,
    elector: LeaderElector | None = None,
) -> web.AppRunner:
    """``/healthz``: the event loop answers. ``/readyz``: kopf's caches are warm, or this is a
    standby waiting for the Lease (a standby that never turned ready would stall every rolling
    update of the Deployment). ``/metrics``: the operator's own metrics, in Prometheus' text
    format."""

    async def healthz(_: web.Request) -> web.Response:
        return web.Response(text="ok")

    async def readyz(_: web.Request) -> web.Response:
        if ready.is_set():
            return web.Response(text="ok")
        if elector is not None and not elector.is_leader:
            return web.Response(text="standby")
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
    lease: LeaseOptions | None = None,
) -> None:
    import kubetune.operator.main  # noqa: F401  (registers the handlers)

    ready = threading.Event()
    metrics = OperatorMetrics()
    elector = None
    if lease is not None:
        identity = default_identity()
        agent = f"kubetune-operator/leader-election ({identity})"
        coordination = client.CoordinationV1Api(api_client(kubeconfig, agent))
        namespace = lease.namespace or own_namespace(kubeconfig)
        elector = LeaderElector(coordination, namespace, lease.name, identity).start()
    runner = None
    if health_port is not None:
        runner = await _serve_probes(ready, health_port, metrics, elector)
    try:
        if elector is not None:
            while not elector.wait_until_leader(0):  # polled: the loop keeps serving probes
                await asyncio.sleep(0.2)
        context = OperatorContext(
            clients=load_clients(kubeconfig), retention=retention, metrics=metrics
        )
        await kopf.operator(
            standalone=True,
            clusterwide=not namespaces,
            namespaces=list(namespaces),
            ready_flag=ready,
            memo=context,
        )
    finally:
        if elector is not None:
            await asyncio.to_thread(elector.release)
        if runner is not None:
            await runner.cleanup()


def run_operator(
    namespaces: Sequence[str] = (),
    health_port: int | None = 8080,
    kubeconfig: str | None = None,
    log_format: str = "plain",
    verbose: bool = False,
    retention: JobRetention | None = None,
    lease: LeaseOptions | None = None,
) -> None:
    """Run until interrupted. No namespaces means all of them. ``retention``: how finished
    trial Jobs are cleaned up (None keeps them). ``lease``: lead through this Lease before
    handling anything (None: no leader election; run only one such operator)."""
    if kubeconfig:
        os.environ["KUBECONFIG"] = kubeconfig  # kopf's own login reads it
    kopf.configure(
        verbose=verbose,
        log_format=kopf.LogFormat.JSON if log_format == "json" else kopf.LogFormat.FULL,
    )
    asyncio.run(_main(namespaces, health_port, kubeconfig, retention, lease))
