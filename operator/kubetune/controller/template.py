"""The trial Job: the user's template with parameters injected. Pure: a dict in, a dict out.

Both backends start from this manifest: the Kubernetes backend creates it, the local backend
runs its primary container's command. Parameters reach the trial three ways: ``${params.NAME}``
in any string of the template, ``KUBETUNE_PARAMS`` (JSON) and the other ``KUBETUNE_*`` variables.
"""

from __future__ import annotations

import copy
import json
import math
from collections.abc import Mapping
from typing import Any

from kubetune.api.spec import TuningJob
from kubetune.api.validation import PARAM_PLACEHOLDER
from kubetune.api.workloads import pod_templates
from kubetune.names import (
    ANNOTATION_PARAMETERS,
    LABEL_MANAGED_BY,
    LABEL_TRIAL,
    LABEL_TUNINGJOB,
    MANAGED_BY,
    trial_name,
    tuningjob_label,
)
from kubetune.trials import ParamValue


def format_param(value: ParamValue) -> str:
    """How a value is written into a command line: floats keep their point (``1.0``)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return repr(value) if isinstance(value, float) else str(value)


def substitute(value: Any, params: Mapping[str, ParamValue]) -> Any:
    """Every ``${params.NAME}`` in every string of ``value`` replaced by the parameter's value."""
    if isinstance(value, str):
        return PARAM_PLACEHOLDER.sub(lambda m: format_param(params[m.group(1)]), value)
    if isinstance(value, Mapping):
        return {key: substitute(item, params) for key, item in value.items()}
    if isinstance(value, list):
        return [substitute(item, params) for item in value]
    return value


def trial_labels(tuningjob: str, number: int) -> dict[str, str]:
    owner = tuningjob_label(tuningjob)
    return {
        LABEL_TUNINGJOB: owner,
        LABEL_TRIAL: str(number),
        "app.kubernetes.io/name": "kubetune-trial",
        "app.kubernetes.io/instance": owner,
        "app.kubernetes.io/component": "trial",
        LABEL_MANAGED_BY: MANAGED_BY,
    }


def trial_env(
    job: TuningJob, number: int, params: Mapping[str, ParamValue]
) -> list[dict[str, str]]:
    return [
        {"name": "KUBETUNE_TRIAL_NAME", "value": trial_name(job.name, number)},
        {"name": "KUBETUNE_TRIAL_NUMBER", "value": str(number)},
        {"name": "KUBETUNE_TUNINGJOB", "value": job.name},
        {"name": "KUBETUNE_PARAMS", "value": json.dumps(dict(params), sort_keys=True)},
    ]


def primary_container_name(job: TuningJob) -> str:
    """The container whose log holds the metrics: primaryContainer, else the first container
    of the (first) pod template."""
    template = job.spec.trial_template
    if template.primary_container is not None:
        return template.primary_container
    [first, *_] = pod_templates(template.spec)
    return str(first["spec"]["containers"][0]["name"])


def primary_container_index(job: TuningJob) -> int:
    """The primary container's index in a Job template's containers."""
    containers = job.spec.trial_template.spec["template"]["spec"]["containers"]
    wanted = job.spec.trial_template.primary_container
    if wanted is None:
        return 0
    return next(i for i, container in enumerate(containers) if container.get("name") == wanted)


def interruption_policy() -> dict[str, Any]:
    """The ``podFailurePolicy`` a trial Job gets when its template has none.

    An infrastructure interruption (eviction, preemption, node loss: the pod's
    ``DisruptionTarget`` condition) is ``Ignore``d, so the Job controller replaces the pod inside
    the same Job without counting a failure; any non-zero exit code fails the Job at once (a
    training failure is not retried). The Ignore rule comes first: an evicted container exits
    non-zero too. ``limits.maxTrialRetries`` bounds the reruns (the operator counts them).
    """
    return {
        "rules": [
            {
                "action": "Ignore",
                "onPodConditions": [{"type": "DisruptionTarget", "status": "True"}],
            },
            {"action": "FailJob", "onExitCodes": {"operator": "NotIn", "values": [0]}},
        ]
    }


def render_trial_job(
    job: TuningJob,
    number: int,
    params: Mapping[str, ParamValue],
    owner_uid: str | None = None,
) -> dict[str, Any]:
    """The trial's workload: a batch/v1 Job, or the kind ``trialTemplate`` names."""
    template = job.spec.trial_template
    name = trial_name(job.name, number)
    labels = trial_labels(job.name, number)
    spec: dict[str, Any] = substitute(copy.deepcopy(template.spec), params)
    env = trial_env(job, number, params)
    if template.is_job:
        _job_defaults(job, spec)
    for pod in pod_templates(spec):
        pod_metadata = pod.setdefault("metadata", {})
        pod_metadata["labels"] = {**pod_metadata.get("labels", {}), **labels}
        for container in pod["spec"]["containers"]:
            reserved = {item["name"] for item in env}
            user_env = [
                item for item in container.get("env", []) if item.get("name") not in reserved
            ]
            container["env"] = [*user_env, *env]

    metadata: dict[str, Any] = {
        "name": name,
        "labels": {**template.metadata.labels, **labels},
        "annotations": {
            **template.metadata.annotations,
            ANNOTATION_PARAMETERS: json.dumps(dict(params), sort_keys=True),
        },
    }
    if job.metadata.namespace:
        metadata["namespace"] = job.metadata.namespace
    if owner_uid is not None:
        metadata["ownerReferences"] = [
            {
                "apiVersion": job.api_version,
                "kind": job.kind,
                "name": job.name,
                "uid": owner_uid,
                "controller": True,
                "blockOwnerDeletion": True,
            }
        ]
    return {
        "apiVersion": template.api_version,
        "kind": template.kind,
        "metadata": metadata,
        "spec": spec,
    }


def _job_defaults(job: TuningJob, spec: dict[str, Any]) -> None:
    """What kubetune sets on a trial Job: no retries of failed pods, the trial deadline, the
    restart policy and the interruption policy (each unless the template says otherwise)."""
    spec.setdefault("backoffLimit", 0)  # a retried trial hides failures and burns GPU time
    timeout = job.spec.limits.trial_timeout_seconds
    if timeout is not None:
        spec["activeDeadlineSeconds"] = math.ceil(timeout)
    pod_spec = spec.setdefault("template", {})["spec"]
    pod_spec.setdefault("restartPolicy", "Never")
    if "podFailurePolicy" not in spec and pod_spec["restartPolicy"] == "Never":
        # Kubernetes allows a podFailurePolicy only with restartPolicy Never.
        spec["podFailurePolicy"] = interruption_policy()
