"""The pods of a Job: how the Job controller builds them and reads their state."""

from __future__ import annotations

import copy
from typing import Any

from . import indexed
from .client import Obj

TERMINAL_PHASES = ("Succeeded", "Failed")


def controller_uid(pod: Obj) -> str | None:
    """The uid of the Job that controls ``pod`` (its controller ownerReference), if any."""
    for ref in pod.get("metadata", {}).get("ownerReferences") or []:
        if ref.get("controller") and ref.get("kind") == "Job":
            return str(ref.get("uid"))
    return None


def is_active(pod: Obj) -> bool:
    return pod.get("status", {}).get("phase") not in TERMINAL_PHASES and not pod.get(
        "metadata", {}
    ).get("deletionTimestamp")


def is_terminating(pod: Obj) -> bool:
    return pod.get("status", {}).get("phase") not in TERMINAL_PHASES and bool(
        pod.get("metadata", {}).get("deletionTimestamp")
    )


def is_ready(pod: Obj) -> bool:
    return any(
        c.get("type") == "Ready" and c.get("status") == "True"
        for c in pod.get("status", {}).get("conditions") or []
    )


def restarts(pod: Obj) -> int:
    status = pod.get("status", {})
    return sum(
        int(c.get("restartCount") or 0)
        for c in [
            *(status.get("initContainerStatuses") or []),
            *(status.get("containerStatuses") or []),
        ]
    )


def replaces_only_failed(spec: Obj) -> bool:
    """podReplacementPolicy ``Failed`` (the default with a podFailurePolicy): a pod being
    deleted is replaced only once it has stopped."""
    policy = spec.get("podReplacementPolicy")
    if policy is None:
        return spec.get("podFailurePolicy") is not None
    return bool(policy == "Failed")


def owner_name(pod: Obj) -> str:
    for ref in pod.get("metadata", {}).get("ownerReferences") or []:
        if ref.get("controller") and ref.get("kind") == "Job":
            return str(ref.get("name"))
    return ""


def build_pod(job: Obj, index: int | None, index_failures: int | None) -> dict[str, Any]:
    """The pod the Job controller creates from ``spec.template`` (of completion ``index`` for
    an Indexed Job, carrying ``index_failures`` under ``backoffLimitPerIndex``)."""
    meta = job["metadata"]
    template = job.get("spec", {}).get("template", {})
    template_meta = template.get("metadata") or {}
    labels = dict(template_meta.get("labels") or {})
    labels.setdefault("controller-uid", meta["uid"])
    labels.setdefault("batch.kubernetes.io/controller-uid", meta["uid"])
    labels.setdefault("job-name", meta["name"])
    labels.setdefault("batch.kubernetes.io/job-name", meta["name"])
    pod: dict[str, Any] = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "generateName": f"{meta['name']}-",
            "namespace": meta["namespace"],
            "labels": labels,
            "annotations": dict(template_meta.get("annotations") or {}),
            "ownerReferences": [
                {
                    "apiVersion": "batch/v1",
                    "kind": "Job",
                    "name": meta["name"],
                    "uid": meta["uid"],
                    "controller": True,
                    "blockOwnerDeletion": True,
                }
            ],
        },
        "spec": copy.deepcopy(template.get("spec", {})),
    }
    if template_meta.get("finalizers"):
        pod["metadata"]["finalizers"] = list(template_meta["finalizers"])
    if index is not None:
        indexed.index_pod(pod, meta["name"], index, index_failures)
    return pod
