"""Follow running trials' pod logs, for early stopping on live metrics.

One thread per running trial streams the primary container's log (``follow=True``) into the
incremental ``LogMetricsParser``; the backend reads a snapshot of what it parsed so far on each
reconcile step. A stream ends by itself when the pod ends (also when a pruned trial's Job is
deleted); a broken stream is started again, from the beginning, by the next step that still sees
the pod running.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any

from kubernetes.client import CoreV1Api
from kubernetes.client.exceptions import ApiException
from urllib3.exceptions import HTTPError

from kubetune.api.spec import TuningJobSpec
from kubetune.metrics.logs import LogMetricsParser, MetricSeries

log = logging.getLogger(__name__)

CHUNK_BYTES = 16 * 1024
RESTART_SECONDS = 2.0


class LogFollower:
    """A thread streaming one pod's log into a parser."""

    def __init__(
        self,
        core: CoreV1Api,
        namespace: str,
        pod: str,
        container: str,
        spec: TuningJobSpec,
        on_change: Callable[[], None] | None = None,
    ) -> None:
        self.core = core
        self.namespace = namespace
        self.pod = pod
        self.container = container
        self.on_change = on_change
        self._objectives = spec.objective_metrics
        self._parser = LogMetricsParser(spec.metrics, spec.recorded_metrics)
        self._lock = threading.Lock()
        self._stopped = threading.Event()
        self._response: Any = None
        self.started = time.monotonic()
        self._thread = threading.Thread(target=self._run, name=f"follow-{pod}", daemon=True)
        self._thread.start()

    def _objective_count(self) -> int:
        """How many objective values the log has reported (every objective's)."""
        return sum(self._parser.series.count(name) for name in self._objectives)

    @property
    def alive(self) -> bool:
        return self._thread.is_alive()

    def series(self) -> MetricSeries:
        """A copy of what the log has reported so far."""
        with self._lock:
            return self._parser.series.snapshot()

    def stop(self) -> None:
        self._stopped.set()
        response = self._response
        if response is not None:
            try:
                response.shutdown()  # unblocks the streaming read
            except Exception:  # a stream that is already gone
                log.debug("closing the log stream of %s failed", self.pod, exc_info=True)

    def _feed(self, chunk: bytes | None) -> None:
        """Parse a chunk (a chunk's lines at once: one lock, one wake-up), None at the end."""
        with self._lock:
            before = self._objective_count()
            if chunk is None:
                self._parser.close()
            else:
                self._parser.feed_bytes(chunk)
            changed = self._objective_count() != before
        if changed and self.on_change is not None:
            self.on_change()

    def _run(self) -> None:
        try:
            self._response = self.core.read_namespaced_pod_log(
                self.pod,
                self.namespace,
                container=self.container,
                follow=True,
                _preload_content=False,
            )
            try:
                for chunk in self._response.stream(CHUNK_BYTES):
                    if self._stopped.is_set():
                        break
                    self._feed(chunk)
                else:
                    self._feed(None)  # the log ended: its last line counts without a line end
            finally:
                self._response.release_conn()
        except (ApiException, HTTPError, OSError, ValueError) as error:
            if not self._stopped.is_set():
                log.debug("following the log of %s ended: %s", self.pod, error)
