"""``python -m tests.kubesim --port PORT --kubeconfig PATH [--nodes FILE] [--state-dir DIR]``.

Starts the API server, seeds the ``default``/``kube-system`` namespaces and the Node objects,
writes the kubeconfig only once all that is ready (so "kubeconfig exists" means "usable"),
then runs the cluster controllers (Job controller, scheduler, kubelet) from
``tests.kubesim.cluster`` until SIGTERM/SIGINT.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import signal
import sys
import tempfile
from pathlib import Path
from typing import Any

import yaml
from aiohttp import web

from .api import Api
from .cluster import default_nodes, load_nodes, run_controllers
from .rbac import bootstrap_policy
from .server import Server
from .store import Store
from .watch import WatchSettings

log = logging.getLogger("kubesim")

SEED_NAMESPACES = ("default", "kube-system", "kube-public", "kube-node-lease")


def _parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m tests.kubesim", description=__doc__)
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port")
    parser.add_argument("--kubeconfig", type=Path, required=True)
    parser.add_argument(
        "--nodes",
        type=Path,
        metavar="FILE",
        help="YAML node config (not Node objects): 'nodes: [{name, labels, taints, capacity, "
        "allocatable, unschedulable}]', format in tests/kubesim/cluster/nodes.py "
        "(default: cpu-1, cpu-2 and a tainted 8-GPU gpu-1)",
    )
    parser.add_argument("--state-dir", type=Path, help="container logs etc. (default: temp dir)")
    parser.add_argument(
        "--no-controllers",
        action="store_true",
        help="serve the API only (pure API conformance tests)",
    )
    parser.add_argument("--bookmark-interval", type=float, default=2.0)
    parser.add_argument(
        "--history-size",
        type=int,
        default=10000,
        help="watch events kept per resource for resourceVersion resumes",
    )
    parser.add_argument("--log-level", default=os.environ.get("KUBESIM_LOG_LEVEL", "INFO"))
    return parser.parse_args(argv)


def kubeconfig_text(url: str) -> str:
    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "preferences": {},
        "clusters": [{"name": "kubesim", "cluster": {"server": url}}],
        "users": [{"name": "kubesim", "user": {}}],
        "contexts": [
            {
                "name": "kubesim",
                "context": {"cluster": "kubesim", "user": "kubesim", "namespace": "default"},
            }
        ],
        "current-context": "kubesim",
    }
    return yaml.safe_dump(config, sort_keys=False)


def _write_atomically(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


def _load_nodes(path: Path | None) -> list[dict[str, Any]]:
    return load_nodes(path) if path is not None else default_nodes()


async def _run_controllers(url: str, state_dir: Path, stop: asyncio.Event) -> None:
    try:
        await run_controllers(url, state_dir, stop)
    except asyncio.CancelledError:
        raise
    except Exception:
        log.exception("cluster controllers crashed; the API server keeps running")


def _seed_rbac(api: Api) -> None:
    """The bootstrap ClusterRoles and bindings a fresh apiserver creates (rbac.py)."""
    roles, bindings = bootstrap_policy()
    for plural, objects in (("clusterroles", roles), ("clusterrolebindings", bindings)):
        rt = api.registry.get("rbac.authorization.k8s.io", "v1", plural)
        assert rt is not None
        for obj in objects:
            api.create(rt, None, obj)


async def serve(args: argparse.Namespace) -> None:
    WatchSettings.bookmark_interval = args.bookmark_interval
    state_dir = args.state_dir or Path(tempfile.mkdtemp(prefix="kubesim-state-"))
    state_dir.mkdir(parents=True, exist_ok=True)
    api = Api(Store(history_size=args.history_size))
    server = Server(api, state_dir)
    runner = web.AppRunner(server.app, access_log=None, handler_cancellation=True)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", args.port, backlog=1024)
    await site.start()
    # aiohttp has no public accessor for the port it bound when asked for port 0.
    sockets = getattr(site._server, "sockets", None) or []
    port = int(sockets[0].getsockname()[1])
    url = f"http://127.0.0.1:{port}"
    server.server_address = f"127.0.0.1:{port}"

    ns_type = api.registry.get("", "v1", "namespaces")
    node_type = api.registry.get("", "v1", "nodes")
    assert ns_type is not None
    assert node_type is not None
    for name in SEED_NAMESPACES:
        api.create(ns_type, None, {"metadata": {"name": name}})
    _seed_rbac(api)
    for node in _load_nodes(args.nodes):
        api.create(node_type, None, node)
    _write_atomically(args.kubeconfig, kubeconfig_text(url))
    log.info("kubesim serving %s (kubeconfig %s, state dir %s)", url, args.kubeconfig, state_dir)

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    controllers = None
    if not args.no_controllers:
        controllers = asyncio.create_task(_run_controllers(url, state_dir, stop))
    await stop.wait()
    log.info("kubesim stopping")
    if controllers is not None:
        try:
            await asyncio.wait_for(controllers, timeout=10)
        except (TimeoutError, asyncio.CancelledError):
            controllers.cancel()
    for watcher in api.store.watchers():
        watcher.close()
    with contextlib.suppress(Exception):
        await asyncio.wait_for(runner.cleanup(), timeout=5)


def main(argv: list[str] | None = None) -> int:
    args = _parse_args(argv)
    logging.basicConfig(
        level=args.log_level.upper(),
        stream=sys.stderr,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    logging.getLogger("aiohttp.access").setLevel(logging.WARNING)
    asyncio.run(serve(args))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
