"""Where the emulated kubelet writes container logs, and where the API server reads them.

Both halves of the emulator (the HTTP API server and the process-running kubelet) agree on these
functions, so ``pods/{name}/log`` serves exactly what a trial process printed.

The log file holds one entry per line as the CRI log format has it, minus the stream and tag
fields: ``<RFC 3339 timestamp with nanoseconds> <line>\\n``. A container's restarts append to
the same file; the byte offset at which each run's output starts is one decimal number per line
in the file at :func:`container_runs_path` (what ``previous=true`` serves from).
"""

from __future__ import annotations

import time
from pathlib import Path


def container_log_path(state_dir: Path, namespace: str, pod: str, container: str) -> Path:
    """The file holding a container's combined stdout and stderr."""
    return state_dir / "logs" / namespace / pod / f"{container}.log"


def container_runs_path(log_path: Path) -> Path:
    """The file listing where each run (start or restart) of the container begins in its log.

    Container names are DNS labels (no dots), so this name never clashes with another log."""
    return log_path.with_suffix(".runs")


def log_timestamp(ns: int | None = None) -> bytes:
    """``ns`` (default: now) as the CRI writes it: RFC 3339, UTC, nine fractional digits."""
    if ns is None:
        ns = time.time_ns()
    seconds, fraction = divmod(ns, 1_000_000_000)
    return (time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds)) + f".{fraction:09d}Z").encode()
