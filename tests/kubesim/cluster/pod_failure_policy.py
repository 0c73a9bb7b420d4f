"""``spec.podFailurePolicy`` of a Job: which rule a failed pod matches, and what it does.

As in kube-controller-manager (``pkg/controller/job/pod_failure_policy.go``): rules are tried in
order and the first match decides. ``onExitCodes`` looks at terminated containers (app
containers first, then init containers), optionally only the one named ``containerName``, and
never at exit code 0; ``In`` matches a code in ``values``, ``NotIn`` one outside them.
``onPodConditions`` matches a pod condition of that type whose status equals the pattern's
(default ``True``). A pod no rule matches is counted as usual (the ``Count`` action).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .client import Obj

FAIL_JOB = "FailJob"
FAIL_INDEX = "FailIndex"
IGNORE = "Ignore"
COUNT = "Count"
REASON = "PodFailurePolicy"


@dataclass(frozen=True)
class Verdict:
    """What the policy says about one failed pod; ``message`` is set for ``FailJob``."""

    action: str
    message: str | None = None

    @property
    def counts(self) -> bool:
        """Whether the failure counts in ``status.failed`` and towards the backoff limit."""
        return self.action != IGNORE


def _exit_code_match(status: Obj, requirement: Obj) -> Obj | None:
    wanted = {int(v) for v in requirement.get("values") or []}
    operator = requirement.get("operator")
    name = requirement.get("containerName")
    for key in ("containerStatuses", "initContainerStatuses"):
        for container in status.get(key) or []:
            terminated = (container.get("state") or {}).get("terminated")
            if terminated is None or (name is not None and container.get("name") != name):
                continue
            code = int(terminated.get("exitCode") or 0)
            if code == 0:
                continue
            if (code in wanted) == (operator == "In"):
                return dict(container, exitCode=code)
    return None


def _condition_match(status: Obj, patterns: list[Any]) -> str | None:
    for pattern in patterns:
        for condition in status.get("conditions") or []:
            if condition.get("type") == pattern.get("type") and condition.get(
                "status"
            ) == pattern.get("status", "True"):
                return str(condition.get("type"))
    return None


def judge(policy: Obj | None, pod: Obj) -> Verdict:
    """The policy's verdict on ``pod``, which failed (``Count`` when nothing matches)."""
    status = pod.get("status") or {}
    meta = pod.get("metadata") or {}
    where = f"{meta.get('namespace')}/{meta.get('name')}"
    for index, rule in enumerate((policy or {}).get("rules") or []):
        action = str(rule.get("action"))
        message: str | None = None
        if rule.get("onExitCodes") is not None:
            container = _exit_code_match(status, rule["onExitCodes"])
            if container is None:
                continue
            message = (
                f"Container {container.get('name')} for pod {where} failed with exit code "
                f"{container['exitCode']} matching {action} rule at index {index}"
            )
        elif rule.get("onPodConditions") is not None:
            condition = _condition_match(status, rule["onPodConditions"])
            if condition is None:
                continue
            message = (
                f"Pod {where} has condition {condition} matching {action} rule at index {index}"
            )
        else:
            continue
        return Verdict(action, message if action == FAIL_JOB else None)
    return Verdict(COUNT)
