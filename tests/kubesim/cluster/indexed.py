"""Indexed Jobs (``completionMode: Indexed``): what the Job controller adds to each pod.

Each pod gets its completion index as the ``batch.kubernetes.io/job-completion-index``
annotation and label, a ``JOB_COMPLETION_INDEX`` env var in every container that reads the
annotation through the downward API, the hostname ``<job>-<index>`` and the generated name
``<job>-<index>-``. With ``backoffLimitPerIndex`` the pod also carries how many earlier pods of
its index failed (``batch.kubernetes.io/job-index-failure-count``). Completed and failed
indexes are reported as interval text such as ``"1,3-5,7"``.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from .client import Obj

INDEX_KEY = "batch.kubernetes.io/job-completion-index"
FAILURE_COUNT_KEY = "batch.kubernetes.io/job-index-failure-count"
INDEX_ENV = "JOB_COMPLETION_INDEX"
_MAX_GENERATE_NAME = 58  # 63 minus the 5 random characters the API server appends


def is_indexed(spec: Obj) -> bool:
    return spec.get("completionMode") == "Indexed"


def pod_index(pod: Obj) -> int | None:
    """The pod's completion index, or None if it has none (or a malformed one)."""
    raw = (pod.get("metadata", {}).get("annotations") or {}).get(INDEX_KEY)
    try:
        return int(raw) if raw is not None else None
    except ValueError:
        return None


def failure_count(pod: Obj) -> int:
    raw = (pod.get("metadata", {}).get("annotations") or {}).get(FAILURE_COUNT_KEY, "0")
    try:
        return int(raw)
    except ValueError:
        return 0


def format_indexes(indexes: Iterable[int]) -> str | None:
    """``{1, 3, 4, 5, 7}`` -> ``"1,3-5,7"`` (runs of three or more collapse); None if empty."""
    ordered = sorted(set(indexes))
    parts: list[str] = []
    i = 0
    while i < len(ordered):
        j = i
        while j + 1 < len(ordered) and ordered[j + 1] == ordered[j] + 1:
            j += 1
        if j - i >= 2:
            parts.append(f"{ordered[i]}-{ordered[j]}")
        else:
            parts.extend(str(n) for n in ordered[i : j + 1])
        i = j + 1
    return ",".join(parts) or None


def parse_indexes(text: str | None) -> set[int]:
    """The inverse of :func:`format_indexes` (a controller restart resumes from status)."""
    found: set[int] = set()
    for part in (text or "").split(","):
        if not part:
            continue
        first, _, last = part.partition("-")
        found.update(range(int(first), int(last or first) + 1))
    return found


def generate_name(job_name: str, index: int) -> str:
    prefix = f"{job_name}-{index}-"
    if len(prefix) > _MAX_GENERATE_NAME:
        prefix = prefix[:_MAX_GENERATE_NAME]
    return prefix


def index_pod(pod: dict[str, Any], job_name: str, index: int, failures: int | None) -> None:
    """Make a pod built from the Job's template the pod of ``index`` (in place)."""
    meta = pod["metadata"]
    meta["generateName"] = generate_name(job_name, index)
    meta.setdefault("annotations", {})[INDEX_KEY] = str(index)
    meta.setdefault("labels", {})[INDEX_KEY] = str(index)
    if failures is not None:
        meta["annotations"][FAILURE_COUNT_KEY] = str(failures)
    spec = pod["spec"]
    spec["hostname"] = f"{job_name}-{index}"
    env_var = {
        "name": INDEX_ENV,
        "valueFrom": {"fieldRef": {"fieldPath": f"metadata.annotations['{INDEX_KEY}']"}},
    }
    for container in [*(spec.get("initContainers") or []), *(spec.get("containers") or [])]:
        env = container.setdefault("env", [])
        if not any(e.get("name") == INDEX_ENV for e in env):
            env.append(env_var)
