"""``POST pods/{name}/eviction``: the Eviction API (``kubectl drain``, the cluster autoscaler).

As in kube-apiserver's eviction REST handler: the request body is a ``policy/v1`` Eviction
whose name must match the URL's; a pod that is already terminal or terminating is simply
deleted; otherwise the pod first gets the ``DisruptionTarget`` condition (reason
``EvictionByEvictionAPI``, message ``Eviction API: evicting``), then it is deleted with the
Eviction's ``deleteOptions``. The reply is a ``Status`` with code 201.

PodDisruptionBudgets are not consulted: the emulator has no disruption controller to keep
their status, so every eviction is allowed (as with a budget that tolerates it).
"""

from __future__ import annotations

from typing import Any

from .api import Api, DeleteOptions
from .errors import bad_request
from .objects import deep_copy, now_rfc3339

EVICTION_REASON = "EvictionByEvictionAPI"
EVICTION_MESSAGE = "Eviction API: evicting"


def add_disruption_condition(pod: dict[str, Any], reason: str, message: str) -> dict[str, Any]:
    """A copy of ``pod`` with ``DisruptionTarget=True`` (replacing an earlier one)."""
    new: dict[str, Any] = deep_copy(pod)
    status = new.setdefault("status", {})
    conditions = [c for c in status.get("conditions") or [] if c.get("type") != "DisruptionTarget"]
    conditions.append(
        {
            "type": "DisruptionTarget",
            "status": "True",
            "reason": reason,
            "message": message,
            "lastProbeTime": None,
            "lastTransitionTime": now_rfc3339(),
        }
    )
    status["conditions"] = conditions
    return new


def evict(api: Api, namespace: str, name: str, body: Any) -> dict[str, Any]:
    """Evict the pod; returns the reply's ``Status`` body."""
    if not isinstance(body, dict):
        raise bad_request("the body of the request was not a JSON object")
    named = (body.get("metadata") or {}).get("name")
    if named is not None and named != name:
        raise bad_request("name in URL does not match name in Eviction object")
    rt = api.registry.get("", "v1", "pods")
    assert rt is not None
    pod = api.get(rt, namespace, name)
    options = DeleteOptions.parse(body.get("deleteOptions") or {}, {})
    finished = (pod.get("status") or {}).get("phase") in ("Succeeded", "Failed")
    if not options.dry_run and not finished and not pod["metadata"].get("deletionTimestamp"):
        marked = add_disruption_condition(pod, EVICTION_REASON, EVICTION_MESSAGE)
        api.update(rt, namespace, name, marked, "status")
    api.delete(rt, namespace, name, options)
    return {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success", "code": 201}
