"""Rules that span fields, checked after the structure is known to be right.

Each check yields ``FieldError``s so a user sees every problem of a manifest in one go. The
checks also run on a manifest whose structure is wrong (``partial_semantic_errors``): each part
of the spec that validates on its own is checked, and a check whose inputs did not validate is
skipped, so fixing the structural errors does not reveal a second list.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from pydantic import ValidationError

from kubetune.api.duration import parse_duration
from kubetune.api.errors import FieldError, from_validation_error
from kubetune.api.settings import SETTINGS_MODELS
from kubetune.api.spec import (
    EarlyStopping,
    Limits,
    MetricDefinition,
    Metrics,
    Objective,
    Parameter,
    SpecModel,
    Strategy,
    TrialTemplate,
    TuningJob,
    TuningJobSpec,
)

PARAM_PLACEHOLDER = re.compile(r"\$\{params\.([^}]*)\}")
JOB_RESTART_POLICIES = ("Never", "OnFailure")

M = TypeVar("M", bound=SpecModel)


@dataclass(frozen=True)
class _Part(Generic[M]):
    """One part of a spec: the model, with the fields that did not validate (by their manifest
    name) set to their defaults and listed in ``broken``; no model when a required field broke."""

    model: M | None
    broken: frozenset[object] = frozenset()

    def ok(self, *fields: str) -> M | None:
        """The model when none of ``fields`` broke, else None (a check needing them skips)."""
        if self.model is None or any(field in self.broken for field in fields):
            return None
        return self.model


@dataclass(frozen=True)
class _Parts:
    """What the checks read: the parts of a spec, each valid or marked as not."""

    objective: _Part[Objective]
    parameters: Sequence[tuple[int, _Part[Parameter]]]
    parameter_names: Mapping[int, str]  # the name of each parameter that has a string one
    parameters_complete: bool  # the list is valid as a list: every parameter is known
    strategy: _Part[Strategy]
    limits: _Part[Limits]
    metrics: _Part[Metrics]
    definitions: Sequence[tuple[int, _Part[MetricDefinition]]] | None  # None: not a list
    early_stopping: _Part[EarlyStopping]
    trial_template: _Part[TrialTemplate]

    @classmethod
    def of_spec(cls, spec: TuningJobSpec) -> _Parts:
        return cls(
            objective=_Part(spec.objective),
            parameters=[(index, _Part(p)) for index, p in enumerate(spec.parameters)],
            parameter_names={index: p.name for index, p in enumerate(spec.parameters)},
            parameters_complete=True,
            strategy=_Part(spec.strategy),
            limits=_Part(spec.limits),
            metrics=_Part(spec.metrics),
            definitions=[(index, _Part(d)) for index, d in enumerate(spec.metrics.definitions)],
            early_stopping=_Part(spec.early_stopping),
            trial_template=_Part(spec.trial_template),
        )

    @classmethod
    def of_manifest(cls, spec: Mapping[str, Any], list_broken: bool) -> _Parts:
        """The parts of a raw ``spec``; ``list_broken``: spec.parameters is wrong as a list
        (its length), so which parameters exist is not known for sure."""
        raw_parameters = spec.get("parameters")
        parameters: list[tuple[int, _Part[Parameter]]] = []
        names: dict[int, str] = {}
        if isinstance(raw_parameters, list):
            for index, item in enumerate(raw_parameters):
                parameters.append((index, _salvage(Parameter, item)))
                name = item.get("name") if isinstance(item, Mapping) else None
                if isinstance(name, str):
                    names[index] = name
        raw_metrics = spec.get("metrics", {})
        raw_definitions = (
            raw_metrics.get("definitions", []) if isinstance(raw_metrics, Mapping) else None
        )
        definitions = None
        if isinstance(raw_definitions, list):
            definitions = [
                (index, _salvage(MetricDefinition, item))
                for index, item in enumerate(raw_definitions)
            ]
        return cls(
            objective=_salvage(Objective, spec.get("objective")),
            parameters=parameters,
            parameter_names=names,
            parameters_complete=isinstance(raw_parameters, list) and not list_broken,
            strategy=_salvage(Strategy, spec.get("strategy", {})),
            limits=_salvage(Limits, spec.get("limits", {})),
            metrics=_salvage(Metrics, raw_metrics),
            definitions=definitions,
            early_stopping=_salvage(EarlyStopping, spec.get("earlyStopping", {})),
            trial_template=_salvage(TrialTemplate, spec.get("trialTemplate")),
        )


def _salvage(model: type[M], raw: Any) -> _Part[M]:
    """``raw`` validated as ``model``, keeping what can be kept of it when it is not valid."""
    if not isinstance(raw, Mapping):
        return _Part(None)
    try:
        return _Part(model.model_validate(raw))
    except ValidationError as error:
        locations = [item["loc"] for item in error.errors(include_url=False)]
    if any(not location for location in locations):
        return _Part(None)
    broken = frozenset(location[0] for location in locations)
    kept = {key: value for key, value in raw.items() if key not in broken}
    try:
        return _Part(model.model_validate(kept), broken)
    except ValidationError:  # a required field is among the broken ones
        return _Part(None, broken)


def semantic_errors(job: TuningJob) -> list[FieldError]:
    """Every cross-field problem in a structurally valid TuningJob."""
    return _errors(_Parts.of_spec(job.spec))


def partial_semantic_errors(
    manifest: Mapping[str, Any], structural: ValidationError
) -> list[FieldError]:
    """The cross-field problems of a manifest that failed ``structural`` validation, as far as
    they can be told: checks run on the parts of its spec that are valid on their own and skip
    whatever they would read from a part that is not (that part has its structural error)."""
    spec = manifest.get("spec")
    if not isinstance(spec, Mapping):
        return []
    list_broken = any(
        tuple(item["loc"]) == ("spec", "parameters")
        for item in structural.errors(include_url=False)
    )
    return _errors(_Parts.of_manifest(spec, list_broken))


def _errors(parts: _Parts) -> list[FieldError]:
    return [
        *_parameter_errors(parts),
        *_objective_errors(parts),
        *_strategy_errors(parts),
        *_limits_errors(parts),
        *_metrics_errors(parts),
        *_early_stopping_errors(parts),
        *_template_errors(parts),
    ]


# The fields of a parameter its type-specific rules read.
_PARAMETER_FIELDS = ("type", "min", "max", "step", "scale", "values")


def _parameter_errors(parts: _Parts) -> Iterator[FieldError]:
    seen: set[str] = set()
    for index, part in parts.parameters:
        path = f"spec.parameters[{index}]"
        name = parts.parameter_names.get(index)
        if name is not None:
            if name in seen:
                yield FieldError(f"{path}.name", f"duplicate parameter name {name!r}")
            seen.add(name)
        parameter = part.ok(*_PARAMETER_FIELDS)
        if parameter is None:
            continue
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


def _metric_names(parts: _Parts) -> list[str] | None:
    objective = parts.objective.ok("metric", "additionalMetrics")
    return None if objective is None else objective.metric_names


def _objective_errors(parts: _Parts) -> Iterator[FieldError]:
    objective = parts.objective.ok("additionalMetrics")
    if objective is not None:
        seen = {objective.metric}
        for index, name in enumerate(objective.additional_metrics):
            if name in seen:
                yield FieldError(
                    f"spec.objective.additionalMetrics[{index}]", f"duplicate metric {name!r}"
                )
            seen.add(name)
    objective = parts.objective.ok("target")
    target = None if objective is None else objective.target
    if target is not None and not math.isfinite(target):
        yield FieldError("spec.objective.target", f"must be finite (got {target})")


def is_finite_parameter(parameter: Parameter) -> bool:
    return parameter.type != "float" or parameter.step is not None


def _strategy_errors(parts: _Parts) -> Iterator[FieldError]:
    strategy = parts.strategy.ok("algorithm")
    if strategy is None:
        return
    if parts.strategy.ok("settings") is not None:
        settings_model = SETTINGS_MODELS[strategy.algorithm]
        try:
            settings_model.model_validate(strategy.settings)
        except ValidationError as error:
            yield from from_validation_error(error, ("spec", "strategy", "settings"))
    if strategy.algorithm == "grid":
        for index, part in parts.parameters:
            parameter = part.ok("type", "step")
            if parameter is not None and not is_finite_parameter(parameter):
                yield FieldError(
                    f"spec.parameters[{index}].step",
                    f"grid search needs a finite space: float parameter {parameter.name!r} "
                    "needs a step (or use type int or categorical)",
                )
        return
    limits = parts.limits.ok("maxTrials")
    if limits is not None and limits.max_trials is None:
        yield FieldError(
            "spec.limits.maxTrials",
            f"required for strategy {strategy.algorithm} (only grid has a default)",
        )


def _limits_errors(parts: _Parts) -> Iterator[FieldError]:
    limits = parts.limits
    if limits.model is None:
        return
    for field, value in (
        ("maxRuntime", limits.model.max_runtime),
        ("trialTimeout", limits.model.trial_timeout),
        ("pendingTimeout", limits.model.pending_timeout),
    ):
        if value is not None and limits.ok(field) is not None:
            try:
                parse_duration(value)
            except ValueError as error:
                yield FieldError(f"spec.limits.{field}", str(error))


def _metrics_errors(parts: _Parts) -> Iterator[FieldError]:
    defined: set[str] = set()
    all_defined = parts.definitions is not None
    for index, part in parts.definitions or ():
        definition = part.model  # both fields are required: no model when either broke
        if definition is None:
            all_defined = False
            continue
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
    names = _metric_names(parts) or []
    metrics = parts.metrics.ok("source", "format")
    if metrics is not None and metrics.source == "logs" and metrics.format == "regex":
        for name in names if all_defined else ():
            if name not in defined:
                yield FieldError(
                    "spec.metrics.definitions",
                    f"format regex needs a definition for metric {name!r}",
                )
    metrics = parts.metrics.ok("source", "prometheus")
    if metrics is not None and metrics.source == "prometheus":
        prometheus = metrics.prometheus
        queried = {query.metric for query in prometheus.queries} if prometheus else set()
        for name in names:
            if name not in queried:
                yield FieldError(
                    "spec.metrics.prometheus.queries",
                    f"source prometheus needs a query for metric {name!r}",
                )
    metrics = parts.metrics.ok("prometheus")
    if metrics is not None and metrics.prometheus is not None:
        try:
            parse_duration(metrics.prometheus.interval)
        except ValueError as error:
            yield FieldError("spec.metrics.prometheus.interval", str(error))
        for index, query in enumerate(metrics.prometheus.queries):
            for variable in unknown_query_variables(query.query):
                yield FieldError(
                    f"spec.metrics.prometheus.queries[{index}].query",
                    f"unknown variable ${{{variable}}}; known: "
                    + ", ".join(f"${{{name}}}" for name in QUERY_VARIABLES),
                )


# The trial variables of a Prometheus query (kubetune.metrics.prometheus substitutes them).
QUERY_VARIABLES = ("trial.name", "trial.number", "trial.namespace", "trial.pod", "tuningjob")
QUERY_VARIABLE = re.compile(r"\$\{([^}]*)\}")


def unknown_query_variables(template: str) -> list[str]:
    """The ``${...}`` names of a query template that are not trial variables."""
    names = (match.group(1) for match in QUERY_VARIABLE.finditer(template))
    return [name for name in names if name.strip() not in QUERY_VARIABLES]


def _early_stopping_errors(parts: _Parts) -> Iterator[FieldError]:
    early = parts.early_stopping.ok("algorithm", "minResource", "maxResource")
    if (
        early is not None
        and early.algorithm == "hyperband"
        and early.max_resource is not None
        and early.max_resource <= early.min_resource
    ):
        yield FieldError(
            "spec.earlyStopping.maxResource",
            f"must be greater than minResource ({early.max_resource} <= {early.min_resource})",
        )


def _template_errors(parts: _Parts) -> Iterator[FieldError]:
    template = parts.trial_template.ok("spec")
    if template is None:
        return
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
    if not parts.parameters_complete:
        return  # which parameters exist is not known: a placeholder may name a valid one
    known = set(parts.parameter_names.values())
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
