"""Helpers for the cluster tests: Job manifests and deadline-bounded waits on real state."""

from __future__ import annotations

import os
import re
import time
from pathlib import Path
from typing import Any

from kubernetes import client

from tests.kubesim.harness import wait_until

PRINT_VAL_LOSS = ["python", "-c", 'print("val_loss=0.1")']


def job_manifest(
    name: str,
    command: list[str],
    *,
    container: dict[str, Any] | None = None,
    pod_spec: dict[str, Any] | None = None,
    **spec: Any,
) -> dict[str, Any]:
    """A minimal batch/v1 Job running ``command`` in one container named ``main``."""
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"name": name},
        "spec": {
            **spec,
            "template": {
                "spec": {
                    "restartPolicy": "Never",
                    **(pod_spec or {}),
                    "containers": [
                        {
                            "name": "main",
                            "image": "python:3.11",
                            "command": command,
                            **(container or {}),
                        }
                    ],
                }
            },
        },
    }


def job_condition(batch: client.BatchV1Api, ns: str, name: str, kind: str) -> Any:
    """The Job's condition of type ``kind`` if it is True, else None."""
    job = batch.read_namespaced_job_status(name, ns)
    for condition in job.status.conditions or []:
        if condition.type == kind and condition.status == "True":
            return condition
    return None


def wait_job_condition(
    batch: client.BatchV1Api, ns: str, name: str, kind: str, timeout: float = 30.0
) -> Any:
    """Wait (polling every 50 ms, failing at ``timeout``) for a True condition."""
    return wait_until(
        lambda: job_condition(batch, ns, name, kind),
        timeout=timeout,
        message=f"job {ns}/{name} condition {kind}",
    )


def job_pods(core: client.CoreV1Api, ns: str, name: str) -> list[Any]:
    """The Job's pods, oldest first."""
    pods = core.list_namespaced_pod(ns, label_selector=f"job-name={name}").items
    return sorted(pods, key=lambda p: (p.metadata.creation_timestamp, p.metadata.name))


def wait_log_line(
    core: client.CoreV1Api, ns: str, pod: str, pattern: str, timeout: float = 30.0
) -> re.Match[str]:
    """Wait until the pod's log (read through the API) matches ``pattern``."""

    def check() -> re.Match[str] | None:
        return re.search(pattern, core.read_namespaced_pod_log(pod, ns))

    return wait_until(check, timeout=timeout, message=f"log of {ns}/{pod} to match {pattern}")


def pid_alive(pid: int) -> bool:
    """Whether ``pid`` is a live process (a zombie awaiting reaping counts as dead)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] not in ("Z", "X")


def wait_pids_gone(pids: list[int], timeout: float = 15.0) -> None:
    """Fail unless every pid in ``pids`` is gone within ``timeout``."""
    wait_until(
        lambda: not any(pid_alive(p) for p in pids),
        timeout=timeout,
        message=f"processes {pids} to exit",
    )


def wait_pod_phase(
    core: client.CoreV1Api, ns: str, name: str, phases: tuple[str, ...], timeout: float = 30.0
) -> Any:
    """Wait for the pod to reach one of ``phases``; return the pod."""

    def check() -> Any:
        pod = core.read_namespaced_pod(name, ns)
        return pod if pod.status.phase in phases else None

    return wait_until(check, timeout=timeout, message=f"pod {ns}/{name} phase in {phases}")


def deadline(seconds: float) -> float:
    return time.monotonic() + seconds
