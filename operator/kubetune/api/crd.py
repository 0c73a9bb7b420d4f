"""The ``tuningjobs.kubetune.io`` CustomResourceDefinition, generated from the spec models.

``build_crd()`` turns ``TuningJobSpec.model_json_schema()`` into a Kubernetes *structural*
openAPIV3Schema, so the CRD and the pydantic models cannot drift apart: the field descriptions
in ``spec.py`` become what ``kubectl explain tuningjob.spec...`` shows, and every type, enum,
bound, pattern and required list comes from the same place. ``crds/tuningjobs.kubetune.io.yaml``
is this function's output, committed; regenerate it with::

    python -m kubetune.api.crd --write

How JSON Schema (pydantic) maps onto a structural schema:

* ``$ref``/``$defs`` are inlined; ``anyOf: [X, null]`` becomes X with ``nullable: true``.
* Draft 2020 numeric ``exclusiveMinimum: 0`` becomes OpenAPI v3.0 ``minimum: 0`` plus
  ``exclusiveMinimum: true`` (likewise for maximum).
* ``additionalProperties: false`` is not allowed in structural schemas: the API server *prunes*
  unknown fields instead of rejecting them, so it is dropped. The API server then stores the
  object without the typo, unless the client asks for strict field validation (recent
  ``kubectl apply`` does by default, and fails); ``kubetune validate`` rejects it too.
* ``additionalProperties: true`` (``dict[str, Any]``) becomes
  ``x-kubernetes-preserve-unknown-fields: true``.
* ``default`` is kept where it equals the model's default and is harmless when the API server
  fills it in (it does so server-side, so objects read back carry it).

Structure only: rules across fields (``min < max``, ``min > 0`` for a log scale, a finite grid,
valid regular expressions, ...) are not in the CRD. The operator checks them with
``kubetune.api.validation`` and reports problems in an ``InvalidSpec`` condition.
"""

from __future__ import annotations

import argparse
import copy
import json
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import yaml

from kubetune.api.settings import SETTINGS_MODELS
from kubetune.api.spec import TuningJob, TuningJobSpec
from kubetune.api.status import (
    AuxiliaryConditionType,
    AuxiliaryReason,
    BestTrial,
    ConditionType,
    Reason,
    SummaryConditionType,
    TrialCounts,
    TrialReason,
)
from kubetune.names import API_GROUP, CRD_NAME, KIND, PLURAL, SHORT_NAMES, SINGULAR, VERSION

Schema = dict[str, Any]

CRD_FILENAME = f"{CRD_NAME}.yaml"
# operator/kubetune/api/crd.py -> the repository root (only meaningful in a source checkout).
REPO_ROOT = Path(__file__).resolve().parents[3]
DEFAULT_CRD_PATH = REPO_ROOT / "crds" / CRD_FILENAME
# The Helm chart's copy (templates/crds.yaml reads it), written and checked with crds/.
CHART_CRD_PATH = REPO_ROOT / "charts" / "kubetune" / "files" / "crds" / CRD_FILENAME

HEADER = """\
# Generated from the pydantic models in operator/kubetune/api/spec.py by kubetune.api.crd.
# Do not edit by hand. Regenerate with:
#   python -m kubetune.api.crd --write
# Install with:  kubetune crd | kubectl apply -f -
# tests/unit/api/test_crd.py fails when this file differs from what the models generate.
"""

LABELS = {"app.kubernetes.io/name": "kubetune", "app.kubernetes.io/part-of": "kubetune"}

# Server-side defaulting would mark these fields as set by the user: validation rejects
# ``scale`` on a categorical parameter when it is set (``model_fields_set``), so a default there
# would turn every categorical parameter read back from the cluster into an InvalidSpec.
NO_SERVER_DEFAULT = frozenset({"spec.parameters[].scale"})

# Lists whose items are identified by a key: the API server rejects duplicate keys, and
# server-side apply merges entries by key. Validation also rejects duplicates (semantically).
LIST_MAP_KEYS: dict[str, str] = {
    "spec.parameters": "name",
    "spec.metrics.definitions": "name",
}
LIST_SETS = frozenset({"spec.objective.additionalMetrics"})

_CATEGORICAL_VALUE: Schema = {
    "description": (
        "A string, number or boolean. (The schema cannot express 'string, number or boolean', "
        "so any value is stored; the operator rejects other kinds in an InvalidSpec condition.)"
    ),
    "x-kubernetes-preserve-unknown-fields": True,
}

# A structural schema must type every node, so JSON Schema's ``string | number | bool`` union
# has no structural form: the items are kept as they are and checked by the operator.
ITEM_OVERRIDES: dict[str, Schema] = {"spec.parameters[].values[]": _CATEGORICAL_VALUE}


def _preserved(description: str, **extra: Any) -> Schema:
    return {
        "description": description,
        "type": "object",
        **extra,
        "x-kubernetes-preserve-unknown-fields": True,
    }


def _job_spec_schema(description: str) -> Schema:
    """A batch/v1 JobSpec typed down to the pod spec, everything else kept as written.

    kubetune passes the JobSpec on to the Job it creates, where the API server validates it
    fully; here only what kubetune itself relies on is typed.
    """
    container = _preserved(
        "A container (core/v1 Container): name, image, command, args, env, resources, ...",
        properties={
            "name": {
                "description": "Container name, unique within the pod.",
                "type": "string",
                "minLength": 1,
            }
        },
        required=["name"],
    )
    pod_spec = _preserved(
        "The trial pod's spec (core/v1 PodSpec): containers, volumes, nodeSelector, "
        "tolerations, ... ${params.NAME} is substituted in every string.",
        properties={
            "containers": {
                "description": (
                    "The pod's containers, at least one. The one named by "
                    "trialTemplate.primaryContainer (default: the first) runs the training."
                ),
                "type": "array",
                "minItems": 1,
                "items": container,
            },
            "restartPolicy": {
                "description": "Never (set by kubetune when omitted) or OnFailure, as in any Job.",
                "type": "string",
                "enum": ["Never", "OnFailure"],
            },
        },
        required=["containers"],
    )
    template = _preserved(
        "The pod template of each trial Job (core/v1 PodTemplateSpec).",
        properties={
            "metadata": _preserved("Labels and annotations of the trial pods."),
            "spec": pod_spec,
        },
        required=["spec"],
    )
    return _preserved(description, properties={"template": template}, required=["template"])


def _names(*members: Any) -> str:
    """'A, B or C' of enum members."""
    values = [str(m.value) for m in members]
    return values[0] if len(values) == 1 else f"{', '.join(values[:-1])} or {values[-1]}"


_READY, _STALLED = SummaryConditionType.READY.value, SummaryConditionType.STALLED.value
_SPEC_ACCEPTED = AuxiliaryConditionType.SPEC_ACCEPTED.value
_METRICS_SOURCE = AuxiliaryConditionType.METRICS_SOURCE_AVAILABLE.value
_REFUSALS = (Reason.INVALID_SPEC, Reason.SEARCH_SPACE_CHANGED)
_STATES = _names(*ConditionType)
_STATE_TYPES = "/".join(t.value for t in ConditionType)

_CONDITION_TYPES = (
    f"Condition type. The state of the study: {_STATES}; exactly one of them is True. "
    f"Summaries for Flux/kstatus and Argo CD: {_READY} (True once Complete, False while "
    f"running or after a failure) and {_STALLED} (present, True, only when Failed). Beside "
    f"the state, never changing it: {_SPEC_ACCEPTED} (False while the latest edit of the "
    "spec is refused; the study goes on with the spec accepted before) and "
    f"{_METRICS_SOURCE} (with spec.metrics.source prometheus: False while Prometheus cannot "
    "be queried). `kubectl wait --for=condition=Complete` works on these."
)
_CONDITION_REASONS = (
    f"Why, in PascalCase. {_STATE_TYPES} (and {_READY}/{_STALLED}): "
    + ", ".join(r.value for r in Reason if r not in _REFUSALS)
    + f"; {_names(*_REFUSALS)} when Failed because no spec was ever accepted. "
    f"{_SPEC_ACCEPTED}: {AuxiliaryReason.ACCEPTED.value}, or {_names(*_REFUSALS)} naming the "
    f"refused field. {_METRICS_SOURCE}: "
    + _names(AuxiliaryReason.PROMETHEUS_AVAILABLE, AuxiliaryReason.PROMETHEUS_UNAVAILABLE)
    + "."
)
_CONDITIONS = (
    "Running while trials run; then Complete (a limit or the target was reached) or Failed, "
    f"with the reason. Exactly one of {_STATES} is True, whatever else is reported. "
    f"{_READY} and {_STALLED} summarise it for generic tools. {_SPEC_ACCEPTED} is False, "
    "with reason InvalidSpec or SearchSpaceChanged and a Warning Event, while an edit of a "
    "started TuningJob is refused: its study goes on with the spec accepted before (trials "
    f"are still recorded) and {_STATE_TYPES} keep reflecting the study; reverting the edit "
    "makes it True again. A spec never accepted is Failed (InvalidSpec) instead. "
    f"{_METRICS_SOURCE} (spec.metrics.source prometheus only) is False while Prometheus "
    "cannot be queried; finished trials then wait for their metrics."
)

_CONDITION: Schema = {
    "description": "One aspect of the TuningJob's state (Kubernetes condition conventions).",
    "type": "object",
    "properties": {
        "type": {
            "description": _CONDITION_TYPES,
            "type": "string",
            "maxLength": 316,
        },
        "status": {
            "description": "Whether the condition holds: True, False or Unknown.",
            "type": "string",
            "enum": ["True", "False", "Unknown"],
        },
        "reason": {
            "description": _CONDITION_REASONS,
            "type": "string",
            "maxLength": 1024,
        },
        "message": {
            "description": "Details for humans.",
            "type": "string",
            "maxLength": 32768,
        },
        "lastTransitionTime": {
            "description": "When status last changed (RFC 3339).",
            "type": "string",
            "format": "date-time",
        },
        "observedGeneration": {
            "description": "The metadata.generation this condition was computed from.",
            "type": "integer",
            "format": "int64",
            "minimum": 0,
        },
    },
    "required": ["type", "status"],
}

_STATUS_DESCRIPTIONS: dict[str, str] = {
    "status": "Progress of the search, written by the operator.",
    "status.trials": "How many trials are in each state.",
    "status.trials.active": "Trials running now (created and not finished).",
    "status.trials.succeeded": "Trials that finished and reported the objective metric.",
    "status.trials.failed": "Trials that failed (errors, timeouts, missing metrics, ...).",
    "status.trials.pruned": (
        "Trials cut short without failing: stopped early by spec.earlyStopping (reason "
        f"{TrialReason.PRUNED.value}); stopped because the TuningJob finished while they ran "
        "(objective.target reached, maxRuntime, stopAfterTrialsWithoutImprovement or "
        f"maxFailedTrials; reason {TrialReason.STOPPED.value}); or set aside unlaunched because "
        f"their parameters were never fully stored (reason {TrialReason.STOPPED.value}). They "
        "count towards maxTrials, never as failures."
    ),
    "status.trials.total": "Trials started so far, in every state.",
    "status.bestTrial": "The best finished trial so far, by spec.objective.",
    "status.bestTrial.name": "Name of the trial (<tuningjob>-<number>).",
    "status.bestTrial.number": "Trial number, counting from 0.",
    "status.bestTrial.parameters": "The trial's parameter values, by parameter name.",
    "status.bestTrial.objective": "The trial's value of the objective metric.",
    "status.bestTrial.metrics": "Every metric the trial reported (spec.objective metrics).",
    "status.bestTrial.jobName": "Name of the trial's Job.",
}


class CRDGenerationError(ValueError):
    """The models use a construct this generator cannot turn into a structural schema."""


# Keywords of pydantic's JSON Schema that carry no meaning for the CRD.
_IGNORED = frozenset({"title"})
# Keywords copied as they are, in this order (after description and type).
_COPIED = (
    "format",
    "enum",
    "pattern",
    "minLength",
    "maxLength",
    "minimum",
    "maximum",
    "minItems",
    "maxItems",
)
_EXCLUSIVE = {"minimum": "exclusiveMinimum", "maximum": "exclusiveMaximum"}
_HANDLED = frozenset(
    {
        *_COPIED,
        *_EXCLUSIVE.values(),
        "description",
        "type",
        "items",
        "properties",
        "required",
        "additionalProperties",
        "default",
        "const",
    }
)


class _Converter:
    def __init__(self, defs: Mapping[str, Schema], descriptions: Mapping[str, str]) -> None:
        self.defs = defs
        self.descriptions = descriptions
        self.paths: set[str] = set()

    def resolve(self, node: Schema) -> Schema:
        """Inline a ``$ref``; keywords next to it (the field's description) win."""
        while "$ref" in node:
            ref = node["$ref"]
            prefix = "#/$defs/"
            if not ref.startswith(prefix):
                raise CRDGenerationError(f"unsupported $ref {ref!r}")
            siblings = {k: v for k, v in node.items() if k != "$ref"}
            node = {**self.defs[ref.removeprefix(prefix)], **siblings}
        return node

    def convert(self, node: Schema, path: str) -> Schema:
        self.paths.add(path)
        node = self.resolve(node)
        if "anyOf" in node:
            return self._union(node, path)
        unknown = set(node) - _HANDLED - _IGNORED
        if unknown:
            raise CRDGenerationError(f"{path}: no structural form for {sorted(unknown)}")
        description = node.get("description") or self.descriptions.get(path)
        if not description:
            raise CRDGenerationError(f"{path}: no description (add one to the model field)")
        kind = node.get("type")
        if kind is None:
            raise CRDGenerationError(f"{path}: untyped node (add an override)")
        result: Schema = {"description": description.strip(), "type": kind}
        if "const" in node:
            result["enum"] = [node["const"]]
        for key in _COPIED:
            if key in node:
                result[key] = node[key]
            exclusive = _EXCLUSIVE.get(key)
            if exclusive in node:
                # JSON Schema 2020-12 number -> OpenAPI v3.0 boolean next to minimum/maximum.
                if key in node:
                    raise CRDGenerationError(f"{path}: both {key} and {exclusive}")
                result[key] = node[exclusive]
                result[exclusive] = True
        if kind == "array":
            result["items"] = self._items(node["items"], f"{path}[]")
            if path in LIST_MAP_KEYS:
                result["x-kubernetes-list-type"] = "map"
                result["x-kubernetes-list-map-keys"] = [LIST_MAP_KEYS[path]]
            elif path in LIST_SETS:
                result["x-kubernetes-list-type"] = "set"
        if kind == "object":
            self._object(node, path, result)
        default = node.get("default")
        if default is not None and path not in NO_SERVER_DEFAULT:
            if isinstance(default, dict | list):
                raise CRDGenerationError(f"{path}: only scalar defaults are supported")
            result["default"] = default
        return result

    def _union(self, node: Schema, path: str) -> Schema:
        options = [option for option in node["anyOf"] if option.get("type") != "null"]
        if len(options) != 1:
            raise CRDGenerationError(f"{path}: a union of types has no structural form")
        outer = {k: v for k, v in node.items() if k != "anyOf"}
        result = self.convert({**self.resolve(options[0]), **outer}, path)
        if len(options) < len(node["anyOf"]):
            result["nullable"] = True
        return result

    def _items(self, node: Schema, path: str) -> Schema:
        if path in ITEM_OVERRIDES:
            self.paths.add(path)
            return copy.deepcopy(ITEM_OVERRIDES[path])
        node = self.resolve(node)
        if "description" not in node and path not in self.descriptions:
            # Items of a list of scalars: the list's own description says what they are.
            item = self.convert({**node, "description": "An item of the list."}, path)
            del item["description"]
            return item
        return self.convert(node, path)

    def _object(self, node: Schema, path: str, result: Schema) -> None:
        properties = node.get("properties")
        extra = node.get("additionalProperties")
        if properties:
            result["properties"] = {
                name: self.convert(child, f"{path}.{name}") for name, child in properties.items()
            }
            if node.get("required"):
                result["required"] = list(node["required"])
        if isinstance(extra, dict):
            if properties:
                raise CRDGenerationError(f"{path}: properties and additionalProperties together")
            value = self.convert({"description": "A value.", **extra}, f"{path}{{}}")
            del value["description"]
            result["additionalProperties"] = value
        elif extra is True or (not properties and extra is None):
            result["x-kubernetes-preserve-unknown-fields"] = True
        # additionalProperties: false -> nothing: unknown fields are pruned by the API server.


def _model_schema(
    model: Any, path: str, descriptions: Mapping[str, str] | None = None
) -> tuple[Schema, set[str]]:
    """The structural schema of ``model`` at ``path``, and every path it contains."""
    raw = model.model_json_schema(by_alias=True, mode="validation")
    converter = _Converter(raw.pop("$defs", {}), descriptions or {})
    return converter.convert(raw, path), converter.paths


def _lower_first(text: str) -> str:
    """'Random trials' -> 'random trials', but 'CMA-ES' stays."""
    return text[:1].lower() + text[1:] if text[1:2].islower() else text


def _settings_help() -> str:
    """The keys each algorithm accepts, from the settings models (so the list cannot go stale)."""
    parts = []
    for algorithm, model in SETTINGS_MODELS.items():
        properties = model.model_json_schema(by_alias=True)["properties"]
        keys = []
        for key, field in properties.items():
            notes = [_lower_first(field["description"])] if field.get("description") else []
            if field.get("default") is not None:
                notes.append(f"default {json.dumps(field['default'])}")
            keys.append(f"{key} ({', '.join(notes)})" if notes else key)
        parts.append(f"{algorithm}: {', '.join(keys) if keys else 'none'}.")
    return "Keys per algorithm: " + " ".join(parts)


def _spec_schema() -> Schema:
    spec, paths = _model_schema(TuningJobSpec, "spec")
    configured = {*NO_SERVER_DEFAULT, *LIST_MAP_KEYS, *LIST_SETS, *ITEM_OVERRIDES}
    if configured - paths:  # a renamed field must not silently lose its special handling
        raise CRDGenerationError(f"no such fields in the spec: {sorted(configured - paths)}")
    spec["description"] = _field_description(TuningJob, "spec")
    settings = spec["properties"]["strategy"]["properties"]["settings"]
    settings["description"] = f"{settings['description']} {_settings_help()}"
    template = spec["properties"]["trialTemplate"]["properties"]
    template["spec"] = _job_spec_schema(template["spec"]["description"])
    return spec


def _status_schema() -> Schema:
    trials, _ = _model_schema(TrialCounts, "status.trials", _STATUS_DESCRIPTIONS)
    best, _ = _model_schema(BestTrial, "status.bestTrial", _STATUS_DESCRIPTIONS)
    for schema in (trials, best):
        _strip_defaults(schema)  # the operator writes status; defaults there add nothing
    for counter in trials["properties"].values():
        counter["minimum"] = 0
    return {
        "description": _STATUS_DESCRIPTIONS["status"],
        "type": "object",
        "properties": {
            "conditions": {
                "description": _CONDITIONS,
                "type": "array",
                "items": copy.deepcopy(_CONDITION),
                "x-kubernetes-list-type": "map",
                "x-kubernetes-list-map-keys": ["type"],
            },
            "observedGeneration": {
                "description": "The metadata.generation the operator last acted on.",
                "type": "integer",
                "format": "int64",
                "minimum": 0,
            },
            "trials": trials,
            "bestTrial": best,
            "startTime": {
                "description": "When the first trial was started (RFC 3339).",
                "type": "string",
                "format": "date-time",
            },
            "completionTime": {
                "description": "When the TuningJob became Complete or Failed (RFC 3339).",
                "type": "string",
                "format": "date-time",
            },
        },
    }


def _strip_defaults(schema: Schema) -> None:
    schema.pop("default", None)
    for child in schema.get("properties", {}).values():
        _strip_defaults(child)


def _field_description(model: Any, field: str) -> str:
    description = model.model_fields[field].description
    if not description:
        raise CRDGenerationError(f"{model.__name__}.{field} has no description")
    return str(description)


def build_schema() -> Schema:
    """The structural openAPIV3Schema of a TuningJob.

    ``metadata`` is left out: the API server validates ObjectMeta itself (the name as a DNS
    subdomain), and a schema may only restrict ``metadata.name``/``generateName``. The model's
    stricter name rule (a DNS label, no dots) is checked by the operator (InvalidSpec).
    """
    return {
        "description": (TuningJob.__doc__ or "").strip(),
        "type": "object",
        "properties": {
            "apiVersion": {
                "description": (
                    "APIVersion defines the versioned schema of this representation of an "
                    "object: kubetune.io/v1alpha1."
                ),
                "type": "string",
            },
            "kind": {
                "description": "Kind is the REST resource this object represents: TuningJob.",
                "type": "string",
            },
            "spec": _spec_schema(),
            "status": _status_schema(),
        },
        "required": ["spec"],
    }


def _printer_columns() -> list[Schema]:
    return [
        {
            "name": "Status",
            "type": "string",
            "description": "The condition that is True: Running, Complete or Failed.",
            "jsonPath": '.status.conditions[?(@.status=="True")].type',
        },
        {
            "name": "Succeeded",
            "type": "integer",
            "description": "Trials that succeeded.",
            "jsonPath": ".status.trials.succeeded",
        },
        {
            "name": "Total",
            "type": "integer",
            "description": "Trials started.",
            "jsonPath": ".status.trials.total",
        },
        {
            "name": "Best",
            "type": "number",
            "description": "The best objective value so far.",
            "jsonPath": ".status.bestTrial.objective",
        },
        {"name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp"},
    ]


def build_crd() -> dict[str, Any]:
    """The apiextensions.k8s.io/v1 CustomResourceDefinition for TuningJobs (a fresh dict)."""
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": CRD_NAME, "labels": dict(LABELS)},
        "spec": {
            "group": API_GROUP,
            "names": {
                "kind": KIND,
                "listKind": f"{KIND}List",
                "plural": PLURAL,
                "singular": SINGULAR,
                "shortNames": list(SHORT_NAMES),
                "categories": ["all", "kubetune"],
            },
            "scope": "Namespaced",
            "versions": [
                {
                    "name": VERSION,
                    "served": True,
                    "storage": True,
                    "subresources": {"status": {}},
                    "additionalPrinterColumns": _printer_columns(),
                    "schema": {"openAPIV3Schema": build_schema()},
                }
            ],
        },
    }


def render_crd(output: str = "yaml") -> str:
    """The CRD as the committed file holds it (YAML with a header), or as JSON."""
    crd = build_crd()
    if output == "json":
        return json.dumps(crd, indent=2) + "\n"
    return HEADER + yaml.safe_dump(crd, sort_keys=False, width=100, allow_unicode=True)


def _with_chart_copy(path: Path) -> list[Path]:
    """The default path goes with the Helm chart's copy, so the two never drift apart."""
    return [path, CHART_CRD_PATH] if path == DEFAULT_CRD_PATH else [path]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m kubetune.api.crd",
        description="Print, write or check the TuningJob CRD generated from the spec models.",
    )
    action = parser.add_mutually_exclusive_group()
    action.add_argument(
        "--write",
        nargs="?",
        const=DEFAULT_CRD_PATH,
        type=Path,
        metavar="PATH",
        help=f"write the CRD to PATH (default: {DEFAULT_CRD_PATH} and the chart's copy)",
    )
    action.add_argument(
        "--check",
        nargs="?",
        const=DEFAULT_CRD_PATH,
        type=Path,
        metavar="PATH",
        help="exit 1 if the file at PATH (default: crds/ and the chart's copy) differs from "
        "the generated CRD",
    )
    args = parser.parse_args(argv)
    text = render_crd()
    if args.write is not None:
        for path in _with_chart_copy(args.write):
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
            print(f"wrote {path}")
    elif args.check is not None:
        stale = False
        for path in _with_chart_copy(args.check):
            current = path.read_text(encoding="utf-8") if path.exists() else ""
            if current != text:
                print(f"{path} is out of date: run python -m kubetune.api.crd --write")
                stale = True
            else:
                print(f"{path} is up to date")
        return 1 if stale else 0
    else:
        sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
