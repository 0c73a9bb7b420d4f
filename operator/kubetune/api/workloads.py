"""Where the pods are in a trial workload's spec, whatever its kind."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def pod_templates(spec: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Every pod template in a workload spec (a mapping whose ``spec`` has ``containers``), in
    document order: a Job's ``template``; a JobSet's ``replicatedJobs[].template.spec.template``;
    a PyTorchJob's ``pytorchReplicaSpecs.*.template``."""
    found: list[dict[str, Any]] = []

    def walk(value: Any) -> None:
        if isinstance(value, dict):
            inner = value.get("spec")
            if isinstance(inner, dict) and isinstance(inner.get("containers"), list):
                found.append(value)
                return
            for item in value.values():
                walk(item)
        elif isinstance(value, list):
            for item in value:
                walk(item)

    walk(spec)
    return found
