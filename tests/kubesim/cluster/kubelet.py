"""The kubelet: runs the containers of pods bound to the emulated nodes as local processes.

One :class:`Kubelet` serves every emulated node (they are all this machine). For each pod bound
to a known node it starts a :class:`PodWorker` task that runs init containers one by one, then
the app containers concurrently, applies the restart policy, enforces ``activeDeadlineSeconds``
and reports status the way kubelet does (phase, conditions, container states, exit codes).

A container's stdout and stderr share one pipe, read by a :class:`ContainerLog` protocol on the
event loop (no thread, no task per container) that writes each line to the container's log file
with the time it arrived in front (the CRI log format's timestamp), so the API can serve
``timestamps`` and ``sinceSeconds``/``sinceTime`` per line.

Every container process is started in its own session, so its process group is the container:
stopping a container kills the whole group, and when a container's main process exits whatever
it left running in its group is killed too (a container's processes die with its PID 1).
Deleting the pod (the DELETED watch event, or a deletionTimestamp when finalizers hold it)
cancels the worker, which terminates every group (SIGTERM, then SIGKILL after a grace period
capped at :data:`MAX_GRACE_SECONDS` so tests stay fast).

Nothing polls: workers await process exit, timers and watch events.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, BinaryIO

from ..logs import container_log_path, container_runs_path, log_timestamp
from .client import ApiClient, ApiError, Informer, Obj, pod_path
from .containers import (
    ContainerConfigError,
    command_line,
    container_environment,
    launch_argv,
    memory_limit_bytes,
    working_dir,
)

log = logging.getLogger(__name__)

HOST_IP = "127.0.0.1"
MAX_GRACE_SECONDS = 2.0
RESTART_BACKOFF_BASE = 1.0  # kubelet: 10s doubling to 5 min; here 1s doubling to 8s
RESTART_BACKOFF_CAP = 8.0
CONFIG_RETRY_CAP = 8.0
OOM_EXIT_CODE = 137
# After a container's main process exits (and its group is killed), how long its log pipe may
# stay open: only a process that left the container's process group can hold it that long.
LOG_DRAIN_SECONDS = 2.0
_MEMORY_ERROR_WINDOW = 4096
TERMINAL_PHASES = ("Succeeded", "Failed")
# The pod conditions this kubelet owns; others (DisruptionTarget, readiness gates) are written
# by other components and must survive the kubelet's status updates, as in Kubernetes.
KUBELET_CONDITIONS = frozenset(
    ("PodReadyToStartContainers", "Initialized", "Ready", "ContainersReady", "PodScheduled")
)


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _parse_time(text: str | None) -> float | None:
    if not text:
        return None
    try:
        return datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC).timestamp()
    except ValueError:
        return None


def _backoff(restarts: int) -> float:
    return float(min(RESTART_BACKOFF_BASE * 2 ** max(restarts - 1, 0), RESTART_BACKOFF_CAP))


def _qos_class(pod: Obj) -> str:
    """BestEffort / Guaranteed / Burstable, from cpu and memory requests and limits."""
    containers = [*pod["spec"].get("containers", []), *pod["spec"].get("initContainers", [])]
    any_set = False
    guaranteed = True
    for container in containers:
        resources = container.get("resources") or {}
        limits, requests = resources.get("limits") or {}, resources.get("requests") or {}
        for name in ("cpu", "memory"):
            if name in limits or name in requests:
                any_set = True
            if name not in limits or requests.get(name, limits[name]) != limits[name]:
                guaranteed = False
    if not any_set:
        return "BestEffort"
    return "Guaranteed" if guaranteed else "Burstable"


class ContainerLog(asyncio.Protocol):
    """The reading end of one container run's stdout+stderr pipe, writing the container's log.

    Every line goes to the log file as ``<RFC 3339 timestamp, nanoseconds> <line>``, stamped
    with the time its first byte was read. Bytes are written as soon as they arrive (one write
    per read, no buffering), so a line still being printed shows up at once and the rest of it
    follows without a second timestamp. When the pipe closes in the middle of a line, a newline
    ends it, as the CRI runtimes do, so readers and the next run's output see whole lines.
    """

    def __init__(self, handle: BinaryIO) -> None:
        self.handle = handle
        self.at_line_start = True
        self.tail = b""  # the last bytes this run printed (for the MemoryError check)
        self.transport: asyncio.BaseTransport | None = None
        self.closed: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        stamp = log_timestamp() + b" "
        ends_line = data.endswith(b"\n")
        body = data.replace(b"\n", b"\n" + stamp)
        if ends_line:
            body = body[: -len(stamp)]
        if self.at_line_start:
            body = stamp + body
        self.at_line_start = ends_line
        self._write(body)
        self.tail = (self.tail + data)[-_MEMORY_ERROR_WINDOW:]

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.at_line_start:
            self._write(b"\n")
            self.at_line_start = True
        self.handle.close()
        if not self.closed.done():
            self.closed.set_result(None)

    def _write(self, data: bytes) -> None:
        view = memoryview(data)
        try:
            while view:
                written = self.handle.write(view)
                if not written:
                    raise OSError("short write")
                view = view[written:]
        except (OSError, ValueError) as error:  # disk full, or closed: lose the output, not the pod
            log.warning("writing container log %s failed: %s", self.handle.name, error)

    def close(self) -> None:
        """Stop reading (whatever is still in the pipe is lost); the file closes soon after."""
        if self.transport is not None:
            self.transport.close()

    async def drain(self, timeout: float) -> None:
        """Wait until every writer of the pipe is gone and all it said is in the log file;
        after ``timeout`` stop reading instead."""
        if self.closed.done():
            return
        try:
            await asyncio.wait_for(asyncio.shield(self.closed), timeout)
        except TimeoutError:
            self.close()
            await self.closed


class ContainerRuntime:
    """The processes of one container over its restarts, plus the status kubelet reports."""

    def __init__(self, spec: Obj, log_path: Path) -> None:
        self.spec = spec
        self.name = str(spec.get("name", ""))
        self.log_path = log_path
        self.process: asyncio.subprocess.Process | None = None
        self.output: ContainerLog | None = None
        self.restart_count = 0
        self.state: dict[str, Any] = {"waiting": {"reason": "ContainerCreating"}}
        self.last_state: dict[str, Any] = {}
        self.killed_by_us = False

    def status(self) -> dict[str, Any]:
        """A ``ContainerStatus`` dict."""
        running = "running" in self.state
        return {
            "name": self.name,
            "image": self.spec.get("image", ""),
            "imageID": "",
            "containerID": f"kubesim://{self.process.pid}" if self.process else "",
            "ready": running,
            "started": running,
            "restartCount": self.restart_count,
            "state": self.state,
            "lastState": self.last_state,
        }

    def signal_group(self, signum: int) -> None:
        """Send ``signum`` to the container's whole process group (it may already be gone)."""
        if self.process is None:
            return
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.process.pid, signum)

    async def stop(self, grace: float) -> None:
        """SIGTERM the group, wait up to ``grace`` for the main process, then SIGKILL the group."""
        process = self.process
        if process is None:
            return
        self.killed_by_us = True
        if process.returncode is None:
            self.signal_group(signal.SIGTERM)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(process.wait(), grace)
        self.signal_group(signal.SIGKILL)
        await process.wait()
        await self.drain_output()

    async def start(self, argv: list[str], **options: Any) -> None:
        """Start one run of the container: its output appends to the log (a new container
        truncates it: a recreated pod of the same name must not show the old one's output), and
        the offset where the run's output begins is recorded for ``previous=true``."""
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        first = not self.restart_count
        with contextlib.ExitStack() as cleanup:  # undone unless the process starts
            handle = cleanup.enter_context(
                open(self.log_path, "wb" if first else "ab", buffering=0)
            )
            with open(container_runs_path(self.log_path), "w" if first else "a") as runs:
                runs.write(f"{handle.tell()}\n")
            read_fd, write_fd = os.pipe()
            cleanup.callback(os.close, write_fd)
            pipe = cleanup.enter_context(open(read_fd, "rb", buffering=0))
            loop = asyncio.get_running_loop()
            _, self.output = await loop.connect_read_pipe(lambda: ContainerLog(handle), pipe)
            cleanup.callback(self.close_output)
            self.process = await asyncio.create_subprocess_exec(
                *argv,
                stdin=asyncio.subprocess.DEVNULL,
                stdout=write_fd,
                stderr=asyncio.subprocess.STDOUT,
                **options,
            )
            cleanup.pop_all()  # the log owns the handle and the pipe (its transport closes them)
        os.close(write_fd)  # the container holds the only writing end now

    async def drain_output(self) -> None:
        """Wait (bounded) until the run's output is all in the log file."""
        if self.output is not None:
            await self.output.drain(LOG_DRAIN_SECONDS)

    def close_output(self) -> None:
        if self.output is not None:
            self.output.close()

    def printed_memory_error(self) -> bool:
        """Whether this run's output ends with a Python ``MemoryError`` (the RLIMIT_DATA
        symptom)."""
        return self.output is not None and b"MemoryError" in self.output.tail


class PodWorker:
    """Drives one pod from Pending to a terminal phase; cancelled when the pod is deleted."""

    def __init__(self, kubelet: Kubelet, pod: Obj) -> None:
        self.kubelet = kubelet
        self.pod = pod
        meta = pod["metadata"]
        self.namespace: str = meta["namespace"]
        self.name: str = meta["name"]
        self.uid: str = meta.get("uid", "")
        spec = pod["spec"]
        self.restart_policy: str = spec.get("restartPolicy") or "Always"
        state_dir = kubelet.state_dir

        def runtime(container: Obj) -> ContainerRuntime:
            path = container_log_path(state_dir, self.namespace, self.name, container["name"])
            return ContainerRuntime(container, path)

        self.init = [runtime(c) for c in spec.get("initContainers") or []]
        self.main = [runtime(c) for c in spec.get("containers") or []]
        for container in self.main:
            if self.init:
                container.state = {"waiting": {"reason": "PodInitializing"}}
        for container in self.init:
            container.state = {"waiting": {"reason": "PodInitializing"}}
        self.phase = "Pending"
        self.reason: str | None = None
        self.message: str | None = None
        self.initialized = not self.init
        self.start_time = pod.get("status", {}).get("startTime") or _now()
        self.transitions: dict[str, tuple[str, str]] = {}
        self.published: dict[str, Any] | None = None
        self.lock = asyncio.Lock()
        self.task: asyncio.Task[None] | None = None

    # ---- status -----------------------------------------------------------------------------

    def _condition(self, kind: str, ok: bool, reason: str | None = None) -> dict[str, Any]:
        status = "True" if ok else "False"
        previous = self.transitions.get(kind)
        if previous is None or previous[0] != status:
            self.transitions[kind] = (status, _now())
        condition: dict[str, Any] = {
            "type": kind,
            "status": status,
            "lastProbeTime": None,
            "lastTransitionTime": self.transitions[kind][1],
        }
        if reason and not ok:
            condition["reason"] = reason
        return condition

    def _foreign_conditions(self) -> list[dict[str, Any]]:
        """Conditions others set on the pod, from the newest copy this kubelet has seen."""
        latest = self.kubelet.pods.cache.get(f"{self.namespace}/{self.name}") or self.pod
        if latest.get("metadata", {}).get("uid") != self.uid:
            latest = self.pod
        return [
            dict(c)
            for c in latest.get("status", {}).get("conditions") or []
            if c.get("type") not in KUBELET_CONDITIONS
        ]

    def render(self) -> dict[str, Any]:
        """The full pod status as kubelet would report it now."""
        ready = all("running" in c.state for c in self.main) and self.phase == "Running"
        not_ready_reason = "PodCompleted" if self.phase in TERMINAL_PHASES else "ContainersNotReady"
        status: dict[str, Any] = {
            "phase": self.phase,
            "hostIP": HOST_IP,
            "hostIPs": [{"ip": HOST_IP}],
            "podIP": HOST_IP,
            "podIPs": [{"ip": HOST_IP}],
            "startTime": self.start_time,
            "qosClass": _qos_class(self.pod),
            "conditions": [
                self._condition("PodReadyToStartContainers", True),
                self._condition(
                    "Initialized",
                    self.initialized,
                    "ContainersNotInitialized",
                ),
                self._condition("Ready", ready, not_ready_reason),
                self._condition("ContainersReady", ready, not_ready_reason),
                self._condition("PodScheduled", True),
                *self._foreign_conditions(),
            ],
            "containerStatuses": [c.status() for c in self.main],
        }
        if self.init:
            status["initContainerStatuses"] = [c.status() for c in self.init]
        if self.reason:
            status["reason"] = self.reason
        if self.message:
            status["message"] = self.message
        return status

    async def publish(self) -> None:
        """PATCH the pod status if it changed; concurrent callers coalesce on the lock."""
        async with self.lock:
            status = self.render()
            if status == self.published:
                return
            # Fields we reported earlier but no longer do must be removed explicitly.
            removed = {k: None for k in (self.published or {}) if k not in status}
            patch = {"status": {**status, **removed}}
            try:
                await self.kubelet.client.patch(
                    pod_path(self.namespace, self.name, "status"), patch
                )
                self.published = status
            except ApiError as error:
                if error.status != 404:
                    raise
                log.debug("pod %s/%s vanished before its status update", self.namespace, self.name)

    # ---- running containers -----------------------------------------------------------------

    async def _prepare(self, container: ContainerRuntime) -> tuple[list[str], dict[str, str]]:
        """Resolve env and argv, waiting (CreateContainerConfigError) until references exist."""
        delay = 1.0
        while True:
            try:
                declared, env = await container_environment(
                    container.spec, self.pod, self.kubelet.fetch
                )
                return command_line(container.spec, declared, env["PATH"]), env
            except ContainerConfigError as error:
                container.state = {
                    "waiting": {"reason": "CreateContainerConfigError", "message": str(error)}
                }
                await self.publish()
                await asyncio.sleep(delay)
                delay = min(delay * 2, CONFIG_RETRY_CAP)

    async def _run_once(self, container: ContainerRuntime) -> int:
        """Start the container's process, wait for it, record the terminated state."""
        try:
            argv, env = await self._prepare(container)
        except FileNotFoundError as error:
            now = _now()
            container.state = {
                "terminated": {
                    "exitCode": 128,
                    "reason": "StartError",
                    "message": str(error),
                    "startedAt": now,
                    "finishedAt": now,
                }
            }
            return 128
        container.killed_by_us = False
        memory_limit = memory_limit_bytes(container.spec)
        argv, preexec = launch_argv(argv, memory_limit)
        # Restarts append to the log, so earlier attempts stay readable.
        await container.start(
            argv,
            cwd=working_dir(container.spec, self.kubelet.cwd),
            env=env,
            start_new_session=True,
            preexec_fn=preexec,
        )
        assert container.process is not None
        started = _now()
        container.state = {"running": {"startedAt": started}}
        log.debug(
            "pod %s/%s container %s: pid %s %s",
            self.namespace,
            self.name,
            container.name,
            container.process.pid,
            argv,
        )
        await self.publish()
        # Cancellation (deadline, deletion, shutdown) propagates from here; the worker then
        # stops the group politely (SIGTERM, grace, SIGKILL) in ``_stop_all``.
        returncode = await container.process.wait()
        # The container's PID 1 is gone: nothing else in its group may outlive it.
        container.signal_group(signal.SIGKILL)
        # Terminated is reported only once everything it printed can be read.
        await container.drain_output()
        exit_code = 128 - returncode if returncode < 0 else returncode
        reason = "Completed" if exit_code == 0 else "Error"
        if (
            exit_code != 0
            and memory_limit is not None
            and not container.killed_by_us
            and (returncode == -signal.SIGKILL or container.printed_memory_error())
        ):
            reason, exit_code = "OOMKilled", OOM_EXIT_CODE
        container.state = {
            "terminated": {
                "exitCode": exit_code,
                "reason": reason,
                "startedAt": started,
                "finishedAt": _now(),
                "containerID": f"kubesim://{container.process.pid}",
            }
        }
        return exit_code

    async def _run_with_restarts(self, container: ContainerRuntime, is_init: bool) -> int:
        """Run a container, restarting it in place as the pod's restartPolicy says."""
        while True:
            exit_code = await self._run_once(container)
            restart = self.restart_policy == "Always" and not is_init
            restart = restart or (self.restart_policy != "Never" and exit_code != 0)
            if not restart:
                await self.publish()
                return exit_code
            container.restart_count += 1
            container.last_state = container.state
            delay = _backoff(container.restart_count)
            container.state = {
                "waiting": {
                    "reason": "CrashLoopBackOff",
                    "message": f"back-off {delay:g}s restarting failed container="
                    f"{container.name} pod={self.name}_{self.namespace}({self.uid})",
                }
            }
            await self.publish()
            await asyncio.sleep(delay)

    async def _run_pod(self) -> None:
        await self.publish()
        for container in self.init:
            container.state = {"waiting": {"reason": "PodInitializing"}}
            if await self._run_with_restarts(container, is_init=True) != 0:
                self.phase = "Failed"
                return
        self.initialized = True
        self.phase = "Running"
        results = await asyncio.gather(
            *(self._run_with_restarts(c, is_init=False) for c in self.main)
        )
        self.phase = "Succeeded" if all(code == 0 for code in results) else "Failed"

    async def _stop_all(self) -> None:
        grace = float(self.pod["spec"].get("terminationGracePeriodSeconds", 30) or 0)
        await asyncio.gather(
            *(c.stop(min(grace, MAX_GRACE_SECONDS)) for c in [*self.init, *self.main])
        )

    def _mark_killed(self, message: str, *, lost: bool = False) -> None:
        """After a forced stop: every container that ran is terminated with the kill's code
        (``lost``: also those this kubelet never started, whose processes died with it)."""
        now = _now()
        for container in [*self.init, *self.main]:
            if "terminated" in container.state:
                continue
            if container.process is None and not lost:
                continue  # never started: stays waiting, as with kubelet
            if container.process is None or container.process.returncode is None:
                container.state = {
                    "terminated": {
                        "exitCode": 137,
                        "reason": "Error",
                        "message": message,
                        "startedAt": now,
                        "finishedAt": now,
                    }
                }
                continue
            code = container.process.returncode
            exit_code = 128 - code if code < 0 else code
            started = container.state.get("running", {}).get("startedAt", now)
            container.state = {
                "terminated": {
                    "exitCode": exit_code,
                    "reason": "Error",
                    "message": message,
                    "startedAt": started,
                    "finishedAt": now,
                }
            }

    def _deadline(self) -> float | None:
        seconds = self.pod["spec"].get("activeDeadlineSeconds")
        if seconds is None:
            return None
        started = _parse_time(self.start_time) or time.time()
        return max(0.0, started + float(seconds) - time.time())

    async def run(self) -> None:
        """The worker task: run the pod to completion, or until the deadline or deletion."""
        try:
            previous = self.pod.get("status", {}).get("phase")
            if previous == "Running" and self.restart_policy == "Never":
                # Bound and running before this kubelet started: the processes are gone.
                self._mark_killed("container process lost when kubesim restarted", lost=True)
                self.phase = "Failed"
            else:
                try:
                    await asyncio.wait_for(self._run_pod(), self._deadline())
                except TimeoutError:
                    await self._stop_all()
                    self._mark_killed("pod active deadline exceeded")
                    self.phase = "Failed"
                    self.reason = "DeadlineExceeded"
                    self.message = "Pod was active on the node longer than the specified deadline"
            await self.publish()
        except asyncio.CancelledError:
            await self._stop_all()
            raise
        except Exception:
            log.exception("pod %s/%s: worker failed", self.namespace, self.name)
            await self._stop_all()
        finally:
            for container in [*self.init, *self.main]:
                container.signal_group(signal.SIGKILL)
                container.close_output()

    async def terminate(self) -> None:
        """Stop the pod because it is being deleted: kill its processes, report them killed."""
        if self.task is not None and not self.task.done():
            self.task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self.task
        self._mark_killed("pod deleted")
        if self.phase not in TERMINAL_PHASES:
            self.phase = "Failed"
        with contextlib.suppress(ApiError, OSError):
            await self.publish()  # only lands if finalizers still hold the object


class Kubelet:
    """Watches pods (and nodes) and keeps one :class:`PodWorker` per live pod on our nodes."""

    def __init__(self, client: ApiClient, state_dir: Path, cwd: Path | None = None) -> None:
        self.client = client
        self.state_dir = state_dir
        self.cwd = cwd or Path.cwd()
        self.node_names: set[str] = set()
        self.nodes = Informer(client, "/api/v1/nodes", self._on_node, name="kubelet/nodes")
        self.pods = Informer(client, "/api/v1/pods", self._on_pod, name="kubelet/pods")
        self.workers: dict[str, PodWorker] = {}
        self.finished: set[str] = set()
        self.background: set[asyncio.Task[None]] = set()

    async def fetch(self, kind: str, namespace: str, name: str) -> Obj | None:
        """GET a ConfigMap or Secret for env resolution; None if it does not exist."""
        try:
            return await self.client.get(f"/api/v1/namespaces/{namespace}/{kind}/{name}")
        except ApiError as error:
            if error.status == 404:
                return None
            raise

    def _spawn(self, coro: Any) -> asyncio.Task[None]:
        task: asyncio.Task[None] = asyncio.get_running_loop().create_task(coro)
        self.background.add(task)
        task.add_done_callback(self.background.discard)
        return task

    def _on_node(self, kind: str, node: Obj, old: Obj | None) -> None:
        name = node["metadata"]["name"]
        if kind == "DELETED":
            self.node_names.discard(name)
            return
        if name not in self.node_names:
            self.node_names.add(name)
            for pod in list(self.pods.cache.values()):
                if pod.get("spec", {}).get("nodeName") == name:
                    self._on_pod("ADDED", pod, None)

    def _on_pod(self, kind: str, pod: Obj, old: Obj | None) -> None:
        meta = pod.get("metadata", {})
        uid = meta.get("uid", "")
        worker = self.workers.get(uid)
        if kind == "DELETED" or meta.get("deletionTimestamp"):
            if kind == "DELETED":
                self.finished.discard(uid)
            else:
                self.finished.add(uid)
            if worker is not None:
                self.workers.pop(uid, None)
                self._spawn(worker.terminate())
            return
        if worker is not None:
            worker.pod = pod  # fresh labels/annotations for later container starts
            return
        node = pod.get("spec", {}).get("nodeName")
        if (
            not node
            or node not in self.node_names
            or uid in self.finished
            or pod.get("status", {}).get("phase") in TERMINAL_PHASES
        ):
            return
        worker = PodWorker(self, pod)
        self.workers[uid] = worker
        worker.task = self._spawn(self._run_worker(worker))

    async def _run_worker(self, worker: PodWorker) -> None:
        await worker.run()
        self.finished.add(worker.uid)
        if self.workers.get(worker.uid) is worker:
            del self.workers[worker.uid]

    async def shutdown(self) -> None:
        """Kill every container process (the emulator is stopping)."""
        workers = list(self.workers.values())
        self.workers.clear()
        for worker in workers:
            if worker.task is not None:
                worker.task.cancel()
        await asyncio.gather(
            *(w.task for w in workers if w.task is not None), return_exceptions=True
        )

    async def run(self) -> None:
        """Run until cancelled; on cancellation no container process is left running."""
        try:
            async with asyncio.TaskGroup() as group:
                group.create_task(self.nodes.run())
                await self.nodes.synced.wait()
                group.create_task(self.pods.run())
        finally:
            await self.shutdown()
