"""kubesim's cluster half: Job controller, scheduler and a kubelet running containers locally.

The API server half (``tests.kubesim``) stores objects and serves the Kubernetes API; this
package makes the stored objects *happen*, as the real control plane does, purely as HTTP
clients of that API server:

* :mod:`.jobs` — batch/v1 Job controller (creates pods, counts, backoff, deadlines, TTL);
* :mod:`.scheduler` — binds pods to nodes using the predicates in :mod:`.scheduling`;
* :mod:`.node_lifecycle` — taints nodes that are not Ready and evicts their pods;
* :mod:`.kubelet` — runs each bound pod's containers as local process groups
  (:mod:`.containers` builds argv/env) and reports pod status;
* :mod:`.nodes` — the Node objects (:func:`default_nodes`, :func:`load_nodes`; the node config
  file format is documented there);
* :mod:`.client` — the small aiohttp API client and list+watch informer they share.

The entry point creates the namespaces and Node objects, then awaits :func:`run_controllers`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from pathlib import Path

from .client import ApiClient
from .jobs import JobController
from .kubelet import Kubelet
from .node_lifecycle import NodeLifecycle
from .nodes import default_nodes, load_nodes
from .scheduler import Scheduler

log = logging.getLogger(__name__)

__all__ = ["default_nodes", "load_nodes", "run_controllers"]


async def run_controllers(api_url: str, state_dir: Path, stop: asyncio.Event) -> None:
    """Run the Job controller, scheduler and kubelet against ``api_url`` until ``stop`` is set.

    Returns only after every container process the kubelet started has been killed, so stopping
    the emulator never leaves trial processes behind. A controller that crashes is logged and
    the others keep running (the API server stays useful for whatever is left).
    """
    names = ("job-controller", "scheduler", "node-lifecycle", "kubelet")
    clients = {name: ApiClient(api_url, name) for name in names}
    kubelet = Kubelet(clients["kubelet"], state_dir)
    components = {
        "job-controller": JobController(clients["job-controller"]).run(),
        "scheduler": Scheduler(clients["scheduler"]).run(),
        "node-lifecycle": NodeLifecycle(clients["node-lifecycle"]).run(),
        "kubelet": kubelet.run(),
    }
    tasks = {
        asyncio.create_task(coro, name=f"kubesim-{name}"): name for name, coro in components.items()
    }

    def report(task: asyncio.Task[None]) -> None:
        if not task.cancelled() and task.exception() is not None:
            log.error("kubesim %s crashed", tasks[task], exc_info=task.exception())

    for task in tasks:
        task.add_done_callback(report)
    try:
        await stop.wait()
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await kubelet.shutdown()
        for client in clients.values():
            with contextlib.suppress(Exception):
                await client.close()
