"""Where the emulated kubelet writes container logs, and where the API server reads them.

Both halves of the emulator (the HTTP API server and the process-running kubelet) agree on this
one function, so ``pods/{name}/log`` serves exactly what a trial process printed.
"""

from __future__ import annotations

from pathlib import Path


def container_log_path(state_dir: Path, namespace: str, pod: str, container: str) -> Path:
    """The file holding a container's combined stdout and stderr."""
    return state_dir / "logs" / namespace / pod / f"{container}.log"
