"""Start kubesim as a subprocess for a test and talk to its private control API.

Running the emulator out of process keeps tests honest (clients reach it over real HTTP, as
the operator will reach a cluster) and makes it parallel-safe under pytest-xdist: every
instance binds port 0 and gets its own kubeconfig and state directory.

    with KubeSim() as sim:
        client = kubernetes.config.new_client_from_config(str(sim.kubeconfig))
        sim.faults(verb="list", resource="pods", status=500, count=2)
        ...
        assert any(r["verb"] == "watch" for r in sim.requests(resource="pods"))
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path
from types import TracebackType
from typing import Any, TypeVar

import yaml

from .logs import container_log_path

log = logging.getLogger(__name__)

REPO_ROOT = Path(__file__).resolve().parents[2]
T = TypeVar("T")


def _describe(message: str | Callable[[], str]) -> str:
    if not callable(message):
        return message
    try:
        return message()
    except Exception as exc:  # the timeout is the failure to report, not this
        return f"<message failed: {exc!r}>"


def wait_until(
    predicate: Callable[[], T],
    timeout: float = 10.0,
    interval: float = 0.05,
    message: str | Callable[[], str] = "condition",
) -> T:
    """Poll ``predicate`` until it returns something truthy; fail loudly at the deadline.

    ``message`` says what was waited for; a callable is called at the deadline, so it can
    describe the state as it is then."""
    deadline = time.monotonic() + timeout
    last_error: Exception | None = None
    while True:
        try:
            value = predicate()
            if value:
                return value
        except Exception as exc:
            last_error = exc
        if time.monotonic() >= deadline:
            raise TimeoutError(
                f"timed out after {timeout}s waiting for {_describe(message)}"
                + (f" (last error: {last_error!r})" if last_error else "")
            )
        time.sleep(interval)


class KubeSim:
    """A kubesim subprocess: ``.url``, ``.kubeconfig``, ``.state_dir`` and control helpers."""

    def __init__(
        self,
        *,
        controllers: bool = True,
        nodes: Path | None = None,
        state_dir: Path | None = None,
        work_dir: Path | None = None,
        startup_timeout: float = 30.0,
        bookmark_interval: float | None = None,
        history_size: int | None = None,
        extra_args: list[str] | None = None,
        log_level: str = "INFO",
    ) -> None:
        self._own_dir = work_dir is None
        self.work_dir = Path(work_dir or tempfile.mkdtemp(prefix="kubesim-"))
        self.kubeconfig = self.work_dir / "kubeconfig"
        self.state_dir = state_dir or self.work_dir / "state"
        self.log_file = self.work_dir / "kubesim.log"
        self.controllers = controllers
        self.nodes = nodes
        self.startup_timeout = startup_timeout
        self.bookmark_interval = bookmark_interval
        self.history_size = history_size
        self.extra_args = list(extra_args or [])
        self.log_level = log_level
        self.process: subprocess.Popen[bytes] | None = None
        self.url = ""
        self._port = 0  # after a first start: restarts bind the same port (clients keep it)

    # ---- lifecycle -------------------------------------------------------------------------
    def command(self) -> list[str]:
        cmd = [
            sys.executable,
            "-m",
            "tests.kubesim",
            "--port",
            str(self._port),
            "--kubeconfig",
            str(self.kubeconfig),
            "--state-dir",
            str(self.state_dir),
            "--log-level",
            self.log_level,
        ]
        if self.nodes is not None:
            cmd += ["--nodes", str(self.nodes)]
        if not self.controllers:
            cmd.append("--no-controllers")
        if self.bookmark_interval is not None:
            cmd += ["--bookmark-interval", str(self.bookmark_interval)]
        if self.history_size is not None:
            cmd += ["--history-size", str(self.history_size)]
        return cmd + self.extra_args

    def start(self) -> KubeSim:
        self.work_dir.mkdir(parents=True, exist_ok=True)
        self.kubeconfig.unlink(missing_ok=True)
        env = dict(os.environ, PYTHONUNBUFFERED="1")
        with open(self.log_file, "ab") as log_handle:
            self.process = subprocess.Popen(
                self.command(),
                cwd=REPO_ROOT,
                stdout=log_handle,
                stderr=subprocess.STDOUT,
                env=env,
                start_new_session=True,
            )
        deadline = time.monotonic() + self.startup_timeout
        while not self.kubeconfig.exists():
            if self.process.poll() is not None:
                raise RuntimeError(
                    f"kubesim exited with {self.process.returncode} during "
                    f"startup:\n{self.log_tail()}"
                )
            if time.monotonic() > deadline:
                self.stop()
                raise TimeoutError(
                    f"kubesim did not write {self.kubeconfig} within "
                    f"{self.startup_timeout}s:\n{self.log_tail()}"
                )
            time.sleep(0.02)
        config = yaml.safe_load(self.kubeconfig.read_text())
        self.url = config["clusters"][0]["cluster"]["server"]
        self._port = self.port
        return self

    def restart_api(self, downtime: float = 0.5, timeout: float = 30.0) -> str:
        """Restart the API server from the state directory while the cluster half (Job
        controller, scheduler, kubelet and the pods they run) keeps going, as when a real
        kube-apiserver restarts: every connection and watch is cut, the API is unreachable
        for ``downtime`` seconds, then serves the same objects, resourceVersions and uids on
        the same port. Returns the resourceVersion the restart began at."""
        restarts = int(self.state()["restarts"])
        answer = self._control("POST", "restart", {"downtime_seconds": downtime})
        wait_until(
            lambda: int(self.state()["restarts"]) > restarts,
            timeout=timeout,
            message=lambda: f"the API server back after a restart:\n{self.log_tail()}",
        )
        return str(answer["resourceVersion"])

    def kill(self) -> None:
        """SIGKILL the emulator (API server, controllers and kubelet at once): a crash."""
        proc = self.process
        if proc is not None and proc.poll() is None:
            proc.kill()
            proc.wait(timeout=10)

    def stop(self, timeout: float = 15.0) -> None:
        proc = self.process
        if proc is None or proc.poll() is not None:
            return
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            log.warning("kubesim pid %s ignored SIGTERM; killing it", proc.pid)
            proc.kill()
            proc.wait(timeout=5)

    def __enter__(self) -> KubeSim:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
        if self._own_dir and exc_type is None:  # keep the log around when something failed
            shutil.rmtree(self.work_dir, ignore_errors=True)

    def log_tail(self, lines: int = 40) -> str:
        try:
            return "\n".join(self.log_file.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    @property
    def port(self) -> int:
        return int(self.url.rsplit(":", 1)[1])

    def env(self) -> dict[str, str]:
        """Environment for subprocesses (kubectl, helm, the operator) aimed at this cluster."""
        return dict(os.environ, KUBECONFIG=str(self.kubeconfig))

    # ---- control API -----------------------------------------------------------------------
    def _control(self, method: str, path: str, body: Any = None) -> Any:
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(
            f"{self.url}/_kubesim/{path}",
            data=data,
            method=method,
            headers={"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            return json.loads(response.read() or b"{}")

    def faults(self, **rule: Any) -> dict[str, Any]:
        """Add a fault rule. Match on any of method, path_regex, verb, group, resource,
        subresource, namespace, name, user_agent_regex; act with status (+ retry_after,
        message) and/or latency_ms; count = how many matches (-1 = until cleared)."""
        return dict(self._control("POST", "faults", rule))

    def clear_faults(self) -> None:
        self._control("DELETE", "faults")

    def drop_watches(self, **match: Any) -> int:
        """End open watch streams (match on resource, group, namespace, user_agent_regex;
        ``abort=True`` resets the TCP connection instead of ending the stream cleanly)."""
        return int(self._control("POST", "watches/drop", match)["dropped"])

    def watches(self) -> list[dict[str, str]]:
        return list(self._control("GET", "watches")["items"])

    def requests(self, since: int = 0, **match: Any) -> list[dict[str, Any]]:
        """The request log (oldest first), filtered on equal entry fields, e.g.
        ``requests(verb="watch", resource="pods", userAgent=...)``."""
        items = self._control("GET", f"requests?since={since}")["items"]
        return [i for i in items if all(i.get(k) == v for k, v in match.items())]

    def clear_requests(self) -> None:
        self._control("DELETE", "requests")

    def compact(self) -> str:
        """Drop the watch history: resuming any earlier resourceVersion now gets 410 Gone."""
        return str(self._control("POST", "compact")["resourceVersion"])

    def state(self) -> dict[str, Any]:
        return dict(self._control("GET", "state"))

    # ---- test data ------------------------------------------------------------------------
    def container_log(self, namespace: str, pod: str, container: str) -> Path:
        return container_log_path(self.state_dir, namespace, pod, container)

    def write_container_log(
        self, namespace: str, pod: str, container: str, text: str, append: bool = False
    ) -> Path:
        path = self.container_log(namespace, pod, container)
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path, "a" if append else "w") as handle:
            handle.write(text)
        return path
