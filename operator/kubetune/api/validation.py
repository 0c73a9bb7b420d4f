"""Rules that span fields, checked after the structure is known to be right.

Each check yields ``FieldError``s so a user sees every problem of a manifest in one go.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterator, Mapping
from typing import Any

from pydantic import ValidationError

from kubetune.api.duration import parse_duration
from kubetune.api.errors import FieldError, from_validation_error
from kubetune.api.settings import SETTINGS_MODELS
from kubetune.api.spec import Parameter, TuningJob, TuningJobSpec

PARAM_PLACEHOLDER = re.compile(r"\$\{params\.([^}]*)\}")
JOB_RESTART_POLICIES = ("Never", "OnFailure")


def semantic_errors(job: TuningJob) -> list[FieldError]:
    """Every cross-field problem in a structurally valid TuningJob."""
    spec = job.spec
    return [
        *_parameter_errors(spec),
        *_objective_errors(spec),
        *_strategy_errors(spec),
        *_limits_errors(spec),
        *_metrics_errors(spec),
        *_early_stopping_errors(spec),
        *_template_errors(spec),
    ]


def _parameter_errors(spec: TuningJobSpec) -> Iterator[FieldError]:
    seen: set[str] = set()
    for index, parameter in enumerate(spec.parameters):
        path = f"spec.parameters[{index}]"
        if parameter.name in seen:
            yield FieldError(f"{path}.name", f"duplicate parameter name {parameter.name!r}")
        seen.add(parameter.name)
        if parameter.type == "categorical":
            yield from _categorical_errors(parameter, path)
        else:
            yield from _range_errors(parameter, path)


def _categorical_errors(parameter: Parameter, path: str) -> Iterator[FieldError]:
    for field in ("min", "max", "step", "scale"):
        if field in parameter.model_fields_set:
            yield FieldError(f"{path}.{field}", "not allowed for type categorical")
    if not parameter.values:
        yield FieldError(f"{path}.values", "required for type categorical (at least one value)")
        return
    seen: list[Any] = []
    for index, value in enumerate(parameter.values):
        if isinstance(value, float) and not math.isfinite(value):
            yield FieldError(f"{path}.values[{index}]", f"must be finite (got {value!r})")
        # Optuna records a choice as the index of the first equal one, so 1, 1.0 and true
        # cannot be told apart in a study: equal values of different types are duplicates too.
        equal = [other for other in seen if other == value]
        if equal:
            twin = "" if type(equal[0]) is type(value) else f" (equals {equal[0]!r}; quote one)"
            yield FieldError(f"{path}.values[{index}]", f"duplicate value {value!r}{twin}")
        seen.append(value)


def _range_errors(parameter: Parameter, path: str) -> Iterator[FieldError]:
    kind = parameter.type
    if parameter.values is not None:
        yield FieldError(f"{path}.values", f"not allowed for type {kind} (use min and max)")
    low, high, step = parameter.min, parameter.max, parameter.step
    for field, value in (("min", low), ("max", high)):
        if value is None:
            yield FieldError(f"{path}.{field}", f"required for type {kind}")
        elif not math.isfinite(value):
            yield FieldError(f"{path}.{field}", f"must be finite (got {value!r})")
        elif kind == "int" and not float(value).is_integer():
            yield FieldError(
                f"{path}.{field}", f"must be a whole number for type int (got {value})"
            )
    if kind == "int" and step is not None and not float(step).is_integer():
        yield FieldError(f"{path}.step", f"must be a whole number for type int (got {step})")
    if low is None or high is None or not (math.isfinite(low) and math.isfinite(high)):
        return
    if low >= high:
        yield FieldError(f"{path}.max", f"must be greater than min ({high} <= {low})")
        return
    if step is not None and step > high - low:
        yield FieldError(f"{path}.step", f"must not exceed max - min ({step} > {high - low})")
    if parameter.scale == "log":
        if low <= 0:
            yield FieldError(f"{path}.min", f"must be > 0 for scale log (got {low})")
        if step is not None and not (kind == "int" and step == 1):
            yield FieldError(f"{path}.step", "not supported with scale log (only step 1 for int)")
    elif parameter.scale == "reverseLog":
        if kind == "int":
            yield FieldError(f"{path}.scale", "reverseLog is only for type float")
        if low < 0 or high >= 1:
            yield FieldError(
                f"{path}.min" if low < 0 else f"{path}.max",
                f"reverseLog needs 0 <= min < max < 1 (got min {low}, max {high})",
            )
        if step is not None:
            yield FieldError(f"{path}.step", "not supported with scale reverseLog")


def _objective_errors(spec: TuningJobSpec) -> Iterator[FieldError]:
    objective = spec.objective
    seen = {objective.metric}
    for index, name in enumerate(objective.additional_metrics):
        if name in seen:
            yield FieldError(
                f"spec.objective.additionalMetrics[{index}]", f"duplicate metric {name!r}"
            )
        seen.add(name)
    if objective.target is not None and not math.isfinite(objective.target):
        yield FieldError("spec.objective.target", f"must be finite (got {objective.target})")


def is_finite_parameter(parameter: Parameter) -> bool:
    return parameter.type != "float" or parameter.step is not None


def _strategy_errors(spec: TuningJobSpec) -> Iterator[FieldError]:
    strategy = spec.strategy
    settings_model = SETTINGS_MODELS[strategy.algorithm]
    try:
        settings_model.model_validate(strategy.settings)
    except ValidationError as error:
        yield from from_validation_error(error, ("spec", "strategy", "settings"))
    if strategy.algorithm == "grid":
        for index, parameter in enumerate(spec.parameters):
            if not is_finite_parameter(parameter):
                yield FieldError(
                    f"spec.parameters[{index}].step",
                    f"grid search needs a finite space: float parameter {parameter.name!r} "
                    "needs a step (or use type int or categorical)",
                )
    elif spec.limits.max_trials is None:
        yield FieldError(
            "spec.limits.maxTrials",
            f"required for strategy {strategy.algorithm} (only grid has a default)",
        )


def _limits_errors(spec: TuningJobSpec) -> Iterator[FieldError]:
    limits = spec.limits
    for field, value in (
        ("maxRuntime", limits.max_runtime),
        ("trialTimeout", limits.trial_timeout),
        ("pendingTimeout", limits.pending_timeout),
    ):
        if value is not None:
            try:
                parse_duration(value)
            except ValueError as error:
                yield FieldError(f"spec.limits.{field}", str(error))


def _metrics_errors(spec: TuningJobSpec) -> Iterator[FieldError]:
    metrics = spec.metrics
    names = spec.objective.metric_names
    defined: set[str] = set()
    for index, definition in enumerate(metrics.definitions):
        path = f"spec.metrics.definitions[{index}]"
        if definition.name in defined:
            yield FieldError(f"{path}.name", f"duplicate metric {definition.name!r}")
        defined.add(definition.name)
        try:
            groups = re.compile(definition.regex).groups
        except re.error as error:
            yield FieldError(f"{path}.regex", f"not a valid regular expression: {error}")
            continue
        if groups != 1:
            yield FieldError(f"{path}.regex", f"must have exactly one capture group (has {groups})")
    if metrics.source == "logs" and metrics.format == "regex":
        for name in names:
            if name not in defined:
                yield FieldError(
                    "spec.metrics.definitions",
                    f"format regex needs a definition for metric {name!r}",
                )
    if metrics.source == "prometheus":
        prometheus = metrics.prometheus
        queried = {query.metric for query in prometheus.queries} if prometheus else set()
        for name in names:
            if name not in queried:
                yield FieldError(
                    "spec.metrics.prometheus.queries",
                    f"source prometheus needs a query for metric {name!r}",
                )
    if metrics.prometheus is not None:
        try:
            parse_duration(metrics.prometheus.interval)
        except ValueError as error:
            yield FieldError("spec.metrics.prometheus.interval", str(error))
        for index, query in enumerate(metrics.prometheus.queries):
            for variable in _QUERY_VARIABLE.findall(query.query):
                if variable.strip() not in QUERY_VARIABLES:
                    yield FieldError(
                        f"spec.metrics.prometheus.queries[{index}].query",
                        f"unknown variable ${{{variable}}}; known: "
                        + ", ".join(f"${{{name}}}" for name in QUERY_VARIABLES),
                    )


# The trial variables of a Prometheus query (kubetune.metrics.prometheus substitutes them).
QUERY_VARIABLES = ("trial.name", "trial.number", "trial.namespace", "trial.pod", "tuningjob")
_QUERY_VARIABLE = re.compile(r"\$\{([^}]*)\}")


def _early_stopping_errors(spec: TuningJobSpec) -> Iterator[FieldError]:
    early = spec.early_stopping
    if (
        early.algorithm == "hyperband"
        and early.max_resource is not None
        and early.max_resource <= early.min_resource
    ):
        yield FieldError(
            "spec.earlyStopping.maxResource",
            f"must be greater than minResource ({early.max_resource} <= {early.min_resource})",
        )


def _template_errors(spec: TuningJobSpec) -> Iterator[FieldError]:
    template = spec.trial_template
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
    if template.primary_container is not None and template.primary_container not in names:
        yield FieldError(
            "spec.trialTemplate.primaryContainer",
            f"no container named {template.primary_container!r} (containers: {', '.join(names)})",
        )
    policy = pod_spec.get("restartPolicy")
    if policy is not None and policy not in JOB_RESTART_POLICIES:
        yield FieldError(
            f"{base}.restartPolicy", f"must be Never or OnFailure for a Job (got {policy!r})"
        )
    known = {parameter.name for parameter in spec.parameters}
    for path, text in _strings(template.spec, "spec.trialTemplate.spec"):
        for reference in PARAM_PLACEHOLDER.findall(text):
            if reference not in known:
                yield FieldError(path, f"${{params.{reference}}} names no parameter")


def _strings(value: Any, path: str) -> Iterator[tuple[str, str]]:
    if isinstance(value, str):
        yield path, value
    elif isinstance(value, Mapping):
        for key, item in value.items():
            yield from _strings(item, f"{path}.{key}")
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _strings(item, f"{path}[{index}]")
