"""``spec.trialTemplate``: a pod spec with named containers, a Job's restart policy, and
``${params.NAME}`` placeholders that name parameters."""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from typing import Any

from kubetune.api.errors import FieldError
from kubetune.api.validation.parts import Parts
from kubetune.api.workloads import pod_templates

PARAM_PLACEHOLDER = re.compile(r"\$\{params\.([^}]*)\}")
JOB_RESTART_POLICIES = ("Never", "OnFailure")


def template_errors(parts: Parts) -> Iterator[FieldError]:
    template = parts.trial_template.ok("spec")
    if template is None:
        return
    if not template.is_job:
        yield from _workload_errors(template)
        yield from _placeholder_errors(parts, template.spec)
        return
    if template.success_condition is not None or template.failure_condition is not None:
        field = "successCondition" if template.success_condition is not None else "failureCondition"
        yield FieldError(
            f"spec.trialTemplate.{field}",
            "only for kinds other than Job (a Job's own Complete and Failed conditions decide)",
        )
    base = "spec.trialTemplate.spec.template.spec"
    pod = template.spec.get("template", {})
    pod_spec = pod.get("spec") if isinstance(pod, Mapping) else None
    if not isinstance(pod_spec, Mapping):
        yield FieldError("spec.trialTemplate.spec.template.spec", "required (a pod spec)")
        return
    containers = pod_spec.get("containers")
    if not isinstance(containers, list) or not containers:
        yield FieldError(f"{base}.containers", "required (at least one container)")
        return
    names: list[str] = []
    for index, container in enumerate(containers):
        name = container.get("name") if isinstance(container, Mapping) else None
        if not isinstance(name, str) or not name:
            yield FieldError(f"{base}.containers[{index}].name", "required")
        else:
            names.append(name)
    primary = template.primary_container
    if (
        parts.trial_template.ok("primaryContainer") is not None
        and primary is not None
        and primary not in names
    ):
        yield FieldError(
            "spec.trialTemplate.primaryContainer",
            f"no container named {primary!r} (containers: {', '.join(names)})",
        )
    policy = pod_spec.get("restartPolicy")
    if policy is not None and policy not in JOB_RESTART_POLICIES:
        yield FieldError(
            f"{base}.restartPolicy", f"must be Never or OnFailure for a Job (got {policy!r})"
        )
    yield from _placeholder_errors(parts, template.spec)


def _placeholder_errors(parts: Parts, spec: Mapping[str, Any]) -> Iterator[FieldError]:
    if not parts.parameters_complete:
        return  # which parameters exist is not known: a placeholder may name a valid one
    known = set(parts.parameter_names.values())
    for path, text in _strings(spec, "spec.trialTemplate.spec"):
        for reference in PARAM_PLACEHOLDER.findall(text):
            if reference not in known:
                yield FieldError(path, f"${{params.{reference}}} names no parameter")


def _workload_errors(template: Any) -> Iterator[FieldError]:
    """A trial of another kind (JobSet, PyTorchJob, ...): how it ends, and pod templates with
    named containers, one of them the primary container."""
    if "/" not in template.api_version:
        yield FieldError(
            "spec.trialTemplate.apiVersion",
            f"must be group/version for a kind other than Job (got {template.api_version!r})",
        )
    if template.success_condition is None:
        yield FieldError(
            "spec.trialTemplate.successCondition",
            f"required for kind {template.kind}: the status condition type meaning success "
            "(e.g. Succeeded for a PyTorchJob, Completed for a JobSet)",
        )
    pods = pod_templates(template.spec)
    if not pods:
        yield FieldError(
            "spec.trialTemplate.spec",
            f"no pod template (a template with spec.containers) in this {template.kind} spec",
        )
        return
    names = {
        str(c.get("name"))
        for pod in pods
        for c in pod["spec"]["containers"]
        if isinstance(c, Mapping) and c.get("name")
    }
    primary = template.primary_container
    if primary is not None and primary not in names:
        yield FieldError(
            "spec.trialTemplate.primaryContainer",
            f"no container named {primary!r} (containers: {', '.join(sorted(names))})",
        )


def _strings(value: Any, path: str) -> Iterator[tuple[str, str]]:
    if isinstance(value, str):
        yield path, value
    elif isinstance(value, Mapping):
        for key, item in value.items():
            yield from _strings(item, f"{path}.{key}")
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _strings(item, f"{path}[{index}]")
