"""``python -m tests.kubesim --port PORT --kubeconfig PATH [--nodes FILE] [--state-dir DIR]``.

Starts the API server from the state directory (continuing its store if it has one), seeds the
``default``/``kube-system`` namespaces and the Node objects that are missing, writes the
kubeconfig only once all that is ready (so "kubeconfig exists" means "usable"), then runs the
cluster controllers (Job controller, scheduler, kubelet) from ``tests.kubesim.cluster`` until
SIGTERM/SIGINT. ``POST /_kubesim/restart`` restarts the API server half in place.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import signal
import sys
import tempfile
from pathlib import Path
from typing import Any

import yaml

from .apiserver import ApiServer, seed
from .cluster import default_nodes, load_nodes, run_controllers
from .faults import Faults
from .watch import WatchSettings

log = logging.getLogger("kubesim")


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
    parser.add_argument(
        "--state-dir",
        type=Path,
        help="the store (objects, resourceVersion) and container logs; a kubesim started on a "
        "state dir that has a store continues from it (default: a fresh temp dir)",
    )
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


class Restarts:
    """``POST /_kubesim/restart`` asks for one: the API server half goes down for
    ``downtime`` seconds and comes back from the state directory (see apiserver.py)."""

    def __init__(self) -> None:
        self.requested = asyncio.Event()
        self.downtime = 0.0

    def __call__(self, downtime: float) -> None:
        self.downtime = max(0.0, downtime)
        self.requested.set()


async def _first(*events: asyncio.Event) -> None:
    waiters = [asyncio.create_task(e.wait()) for e in events]
    try:
        await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for waiter in waiters:
            waiter.cancel()


async def serve(args: argparse.Namespace) -> None:
    WatchSettings.bookmark_interval = args.bookmark_interval
    state_dir = args.state_dir or Path(tempfile.mkdtemp(prefix="kubesim-state-"))
    state_dir.mkdir(parents=True, exist_ok=True)
    faults, restarts = Faults(), Restarts()

    def open_server() -> ApiServer:
        return ApiServer(state_dir, faults, args.history_size, restarts)

    server = await open_server().start(args.port)
    seed(server.api, _load_nodes(args.nodes))
    url = server.url
    _write_atomically(args.kubeconfig, kubeconfig_text(url))
    log.info(
        "kubesim serving %s (kubeconfig %s, state dir %s%s)",
        url,
        args.kubeconfig,
        state_dir,
        ", state loaded" if server.loaded else "",
    )

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    controllers = None
    if not args.no_controllers:
        controllers = asyncio.create_task(_run_controllers(url, state_dir, stop))
    while True:
        await _first(stop, restarts.requested)
        if stop.is_set():
            break
        restarts.requested.clear()
        log.info("kubesim API server restarting (down for %.1fs)", restarts.downtime)
        await server.close()
        await asyncio.sleep(restarts.downtime)
        server = await open_server().start(server.port)
        faults.restarts += 1
        log.info("kubesim API server back at resourceVersion %d", server.api.store.rv)
    log.info("kubesim stopping")
    if controllers is not None:
        try:
            await asyncio.wait_for(controllers, timeout=10)
        except (TimeoutError, asyncio.CancelledError):
            controllers.cancel()
    await server.close()


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
