"""Built-in defaulting and the few built-in validations controllers depend on.

Only what a Job controller, a scheduler, a kubelet or our operator actually reads is defaulted
(Job selector and template labels, Pod phase and restartPolicy, ...); full apimachinery
defaulting is out of scope.
"""

from __future__ import annotations

import base64
from typing import Any

from . import metadata_validation
from .resources import ResourceType

Cause = dict[str, str]

_POD_SPEC_MUTABLE = ("activeDeadlineSeconds", "tolerations", "terminationGracePeriodSeconds")


def _default_container(container: dict[str, Any]) -> None:
    container.setdefault("terminationMessagePath", "/dev/termination-log")
    container.setdefault("terminationMessagePolicy", "File")
    image = container.get("image", "")
    tagless = ":" not in image.rsplit("/", 1)[-1] and "@" not in image
    container.setdefault(
        "imagePullPolicy", "Always" if tagless or image.endswith(":latest") else "IfNotPresent"
    )
    container.setdefault("resources", {})


def default_pod_spec(spec: dict[str, Any], restart_policy: str = "Always") -> None:
    spec.setdefault("restartPolicy", restart_policy)
    spec.setdefault("dnsPolicy", "ClusterFirst")
    spec.setdefault("schedulerName", "default-scheduler")
    spec.setdefault("terminationGracePeriodSeconds", 30)
    spec.setdefault("securityContext", {})
    for key in ("containers", "initContainers"):
        for container in spec.get(key) or []:
            if isinstance(container, dict):
                _default_container(container)


def _default_pod(obj: dict[str, Any]) -> None:
    spec = obj.setdefault("spec", {})
    default_pod_spec(spec)
    spec.setdefault("serviceAccountName", "default")
    spec.setdefault("serviceAccount", spec["serviceAccountName"])
    spec.setdefault("enableServiceLinks", True)
    spec.setdefault("priority", 0)
    status = obj.setdefault("status", {})
    status.setdefault("phase", "Pending")
    status.setdefault("qosClass", "BestEffort")


def _default_job(obj: dict[str, Any]) -> None:
    meta = obj["metadata"]
    uid, name = meta["uid"], meta["name"]
    spec = obj.setdefault("spec", {})
    generated = {"batch.kubernetes.io/controller-uid": uid, "controller-uid": uid}
    if not spec.get("manualSelector"):
        spec.setdefault("selector", {"matchLabels": dict(generated)})
    template = spec.setdefault("template", {})
    labels = template.setdefault("metadata", {}).setdefault("labels", {})
    if not spec.get("manualSelector"):
        labels.update(generated)
    labels.setdefault("batch.kubernetes.io/job-name", name)
    labels.setdefault("job-name", name)
    if "completions" not in spec and "parallelism" not in spec:
        spec["completions"] = 1
    spec.setdefault("parallelism", 1)
    spec.setdefault("backoffLimit", 6)
    spec.setdefault("completionMode", "NonIndexed")
    spec.setdefault("suspend", False)
    # With a podFailurePolicy a pod is replaced only once it has stopped (SetDefaults_Job).
    replacement = "Failed" if spec.get("podFailurePolicy") else "TerminatingOrFailed"
    spec.setdefault("podReplacementPolicy", replacement)
    pod_spec = template.setdefault("spec", {})
    default_pod_spec(pod_spec, restart_policy=pod_spec.get("restartPolicy", ""))


def _default_secret(obj: dict[str, Any]) -> None:
    obj.setdefault("type", "Opaque")
    string_data = obj.pop("stringData", None)
    if string_data:
        data = obj.setdefault("data", {})
        for key, value in string_data.items():
            data[key] = base64.b64encode(str(value).encode()).decode()


def _default_service(obj: dict[str, Any], counter: int) -> None:
    spec = obj.setdefault("spec", {})
    spec.setdefault("type", "ClusterIP")
    spec.setdefault("sessionAffinity", "None")
    if spec.get("clusterIP") != "None":
        spec.setdefault("clusterIP", f"10.96.{(counter // 250) % 250}.{counter % 250 + 1}")
        spec.setdefault("clusterIPs", [spec["clusterIP"]])
    for port in spec.get("ports") or []:
        port.setdefault("protocol", "TCP")
        port.setdefault("targetPort", port.get("port"))
    obj.setdefault("status", {"loadBalancer": {}})


def default_on_create(rt: ResourceType, obj: dict[str, Any], counter: int) -> None:
    """Mutate a new object in place with the defaults its kind gets in Kubernetes."""
    key = (rt.group, rt.plural)
    if key == ("", "pods"):
        _default_pod(obj)
    elif key == ("batch", "jobs"):
        _default_job(obj)
    elif key == ("", "namespaces"):
        obj.setdefault("spec", {}).setdefault("finalizers", ["kubernetes"])
        obj["status"] = {"phase": "Active"}
        obj["metadata"].setdefault("labels", {})["kubernetes.io/metadata.name"] = obj["metadata"][
            "name"
        ]
    elif key == ("", "secrets"):
        _default_secret(obj)
    elif key == ("", "services"):
        _default_service(obj, counter)


def default_on_update(rt: ResourceType, obj: dict[str, Any]) -> None:
    if (rt.group, rt.plural) == ("", "secrets"):
        _default_secret(obj)


def _required(field: str, detail: str = "") -> Cause:
    return {
        "reason": "FieldValueRequired",
        "field": field,
        "message": f"{field}: Required value" + (f": {detail}" if detail else ""),
    }


def validate_builtin(
    rt: ResourceType, obj: dict[str, Any], old: dict[str, Any] | None
) -> list[Cause]:
    """The handful of built-in validation rules that clients would trip over."""
    key = (rt.group, rt.plural)
    causes: list[Cause] = []
    if key == ("", "pods"):
        spec = obj.get("spec") or {}
        _validate_containers(spec, "spec", causes)
        if old is not None:
            old_spec = dict(old.get("spec") or {})
            new_spec = dict(spec)
            for field in _POD_SPEC_MUTABLE:
                old_spec.pop(field, None)
                new_spec.pop(field, None)
            for spec_copy in (old_spec, new_spec):
                for ckey in ("containers", "initContainers"):
                    spec_copy[ckey] = [
                        {k: v for k, v in c.items() if k != "image"}
                        for c in spec_copy.get(ckey) or []
                    ]
            if old_spec != new_spec:
                causes.append(
                    {
                        "reason": "FieldValueForbidden",
                        "field": "spec",
                        "message": "spec: Forbidden: pod updates may not change fields "
                        "other than `spec.containers[*].image`, "
                        "`spec.initContainers[*].image`, "
                        "`spec.activeDeadlineSeconds`, `spec.tolerations` "
                        "(only additions to existing tolerations), "
                        "`spec.terminationGracePeriodSeconds`",
                    }
                )
    elif key == ("batch", "jobs"):
        spec = obj.get("spec") or {}
        template = spec.get("template") or {}
        pod_spec = template.get("spec") or {}
        _validate_containers(pod_spec, "spec.template.spec", causes)
        if pod_spec.get("restartPolicy") not in ("OnFailure", "Never"):
            causes.append(
                {
                    "reason": "FieldValueNotSupported",
                    "field": "spec.template.spec.restartPolicy",
                    "message": f"spec.template.spec.restartPolicy: Unsupported value: "
                    f'"{pod_spec.get("restartPolicy", "")}": supported '
                    'values: "OnFailure", "Never"',
                }
            )
        old_spec = (old or {}).get("spec") or {}
        if (
            old is not None
            and old_spec.get("template") != spec.get("template")
            and not old_spec.get("suspend")
        ):
            causes.append(
                {
                    "reason": "FieldValueInvalid",
                    "field": "spec.template",
                    "message": "spec.template: Invalid value: ...: field is immutable",
                }
            )
        if old is not None and old_spec.get("selector") != spec.get("selector"):
            causes.append(
                {
                    "reason": "FieldValueInvalid",
                    "field": "spec.selector",
                    "message": "spec.selector: Invalid value: "
                    f"{spec.get('selector')}: field is immutable",
                }
            )
    elif key in (("", "configmaps"), ("", "secrets")):
        for field in ("data", "binaryData"):
            value = obj.get(field)
            if value is not None and not isinstance(value, dict):
                causes.append(
                    {
                        "reason": "FieldValueTypeInvalid",
                        "field": field,
                        "message": f"{field}: Invalid value: must be a map",
                    }
                )
        if not causes:
            causes += metadata_validation.validate_config_data(obj, key[1] == "secrets")
            causes += metadata_validation.validate_immutable(obj, old)
    if key in (("batch", "jobs"), ("batch", "cronjobs")):
        template = (obj.get("spec") or {}).get("template") or {}
        causes += metadata_validation.validate_metadata(
            template.get("metadata") or {}, "spec.template.metadata"
        )
    return causes


def _validate_containers(spec: dict[str, Any], path: str, causes: list[Cause]) -> None:
    containers = spec.get("containers")
    if not containers:
        causes.append(_required(f"{path}.containers"))
        return
    for i, container in enumerate(containers):
        if not isinstance(container, dict):
            continue
        if not container.get("name"):
            causes.append(_required(f"{path}.containers[{i}].name"))
        if not container.get("image"):
            causes.append(_required(f"{path}.containers[{i}].image"))
