"""The parts of a spec the checks read, each valid or marked as not: from a valid spec, or
salvaged from a manifest whose structure is wrong."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from pydantic import ValidationError

from kubetune.api.spec import (
    Diagnosis,
    EarlyStopping,
    Limits,
    MetricDefinition,
    Metrics,
    Objective,
    ObjectiveTerm,
    Parameter,
    SpecModel,
    Strategy,
    TrialTemplate,
    TuningJobSpec,
)

M = TypeVar("M", bound=SpecModel)


@dataclass(frozen=True)
class Part(Generic[M]):
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
class Parts:
    """What the checks read: the parts of a spec, each valid or marked as not."""

    objective: Part[Objective]
    # spec.objectives, None when not given (or not a list); objective_given: spec.objective is.
    objectives: Sequence[tuple[int, Part[ObjectiveTerm]]] | None
    objective_given: bool
    parameters: Sequence[tuple[int, Part[Parameter]]]
    parameter_names: Mapping[int, str]  # the name of each parameter that has a string one
    parameters_complete: bool  # the list is valid as a list: every parameter is known
    strategy: Part[Strategy]
    limits: Part[Limits]
    metrics: Part[Metrics]
    definitions: Sequence[tuple[int, Part[MetricDefinition]]] | None  # None: not a list
    early_stopping: Part[EarlyStopping]
    trial_template: Part[TrialTemplate]
    diagnosis: Part[Diagnosis] | None = None  # None: no spec.diagnosis

    @classmethod
    def of_spec(cls, spec: TuningJobSpec) -> Parts:
        return cls(
            objective=Part(spec.objective),
            objectives=None
            if spec.objectives is None
            else [(index, Part(term)) for index, term in enumerate(spec.objectives)],
            objective_given=spec.objective is not None,
            parameters=[(index, Part(p)) for index, p in enumerate(spec.parameters)],
            parameter_names={index: p.name for index, p in enumerate(spec.parameters)},
            parameters_complete=True,
            strategy=Part(spec.strategy),
            limits=Part(spec.limits),
            metrics=Part(spec.metrics),
            definitions=[(index, Part(d)) for index, d in enumerate(spec.metrics.definitions)],
            early_stopping=Part(spec.early_stopping),
            trial_template=Part(spec.trial_template),
            diagnosis=None if spec.diagnosis is None else Part(spec.diagnosis),
        )

    @classmethod
    def of_manifest(cls, spec: Mapping[str, Any], list_broken: bool) -> Parts:
        """The parts of a raw ``spec``; ``list_broken``: spec.parameters is wrong as a list
        (its length), so which parameters exist is not known for sure."""
        raw_parameters = spec.get("parameters")
        parameters: list[tuple[int, Part[Parameter]]] = []
        names: dict[int, str] = {}
        if isinstance(raw_parameters, list):
            for index, item in enumerate(raw_parameters):
                parameters.append((index, salvage(Parameter, item)))
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
                (index, salvage(MetricDefinition, item))
                for index, item in enumerate(raw_definitions)
            ]
        return cls(
            objective=salvage(Objective, spec.get("objective")),
            objectives=_salvage_list(ObjectiveTerm, spec.get("objectives")),
            objective_given=spec.get("objective") is not None,
            parameters=parameters,
            parameter_names=names,
            parameters_complete=isinstance(raw_parameters, list) and not list_broken,
            strategy=salvage(Strategy, spec.get("strategy", {})),
            limits=salvage(Limits, spec.get("limits", {})),
            metrics=salvage(Metrics, raw_metrics),
            definitions=definitions,
            early_stopping=salvage(EarlyStopping, spec.get("earlyStopping", {})),
            trial_template=salvage(TrialTemplate, spec.get("trialTemplate")),
            diagnosis=(
                salvage(Diagnosis, spec["diagnosis"]) if spec.get("diagnosis") is not None else None
            ),
        )


def _salvage_list(model: type[M], raw: Any) -> list[tuple[int, Part[M]]] | None:
    if not isinstance(raw, list):
        return None
    return [(index, salvage(model, item)) for index, item in enumerate(raw)]


def salvage(model: type[M], raw: Any) -> Part[M]:
    """``raw`` validated as ``model``, keeping what can be kept of it when it is not valid."""
    if not isinstance(raw, Mapping):
        return Part(None)
    try:
        return Part(model.model_validate(raw))
    except ValidationError as error:
        locations = [item["loc"] for item in error.errors(include_url=False)]
    if any(not location for location in locations):
        return Part(None)
    broken = frozenset(location[0] for location in locations)
    kept = {key: value for key, value in raw.items() if key not in broken}
    try:
        return Part(model.model_validate(kept), broken)
    except ValidationError:  # a required field is among the broken ones
        return Part(None, broken)
