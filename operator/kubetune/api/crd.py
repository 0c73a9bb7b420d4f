"""The ``tuningjobs.kubetune.io`` CustomResourceDefinition, generated from the spec models.

``build_crd()`` turns ``TuningJobSpec.model_json_schema()`` into a Kubernetes structural
openAPIV3Schema (``kubetune.api.structural``), so the CRD and the pydantic models cannot drift
apart: the field descriptions in ``spec.py`` become what ``kubectl explain tuningjob.spec...``
shows, and every type, enum, bound, pattern and required list comes from the same place. This
module adds what is particular to the TuningJob: hints for lists and defaults, the trial
template's JobSpec, the printer columns and the status (``crd_status``).

``kubetune crd`` prints it; ``crds/tuningjobs.kubetune.io.yaml`` and the Helm chart's copy are
this output, committed, and rewritten by ``python -m dev.crds`` (a test fails when they differ).

Structure only: rules across fields (``min < max``, ``min > 0`` for a log scale, a finite grid,
valid regular expressions, ...) are not in the CRD. The operator checks them with
``kubetune.api.validation`` and reports problems in an ``InvalidSpec`` condition.
"""

from __future__ import annotations

import json
from typing import Any

import yaml

from kubetune.api.crd_rules import add_rules
from kubetune.api.crd_status import status_schema
from kubetune.api.settings import SETTINGS_MODELS
from kubetune.api.spec import TuningJob, TuningJobSpec
from kubetune.api.structural import CRDGenerationError, Schema, SchemaHints, model_schema
from kubetune.names import API_GROUP, CRD_NAME, KIND, PLURAL, SHORT_NAMES, SINGULAR, VERSION

CRD_FILENAME = f"{CRD_NAME}.yaml"

HEADER = """\
# Generated from the pydantic models in operator/kubetune/api/spec.py by kubetune.api.crd.
# Do not edit by hand. Regenerate with:
#   python -m dev.crds
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
    "spec.constraints": "metric",
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
ITEM_OVERRIDES: dict[str, Schema] = {
    "spec.parameters[].values[]": _CATEGORICAL_VALUE,
    # A map of parameter name to such a value: typed as an object, its values checked by the
    # operator against the parameters (spec.initialTrials[i].NAME).
    "spec.initialTrials[]": {
        "description": (
            "One initial trial: every parameter name mapped to its value (a string, number or "
            "boolean), inside the parameter's range or among its values."
        ),
        "type": "object",
        "x-kubernetes-preserve-unknown-fields": True,
    },
}


SPEC_HINTS = SchemaHints(
    list_map_keys=LIST_MAP_KEYS,
    list_sets=LIST_SETS,
    item_overrides=ITEM_OVERRIDES,
    no_server_default=NO_SERVER_DEFAULT,
)


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
    # Not required: a trial of another kind (trialTemplate.kind) has no Job template; the
    # operator checks that a Job trial has one (InvalidSpec names the field).
    return _preserved(description, properties={"template": template})


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
    spec, paths = model_schema(TuningJobSpec, "spec", SPEC_HINTS)
    if SPEC_HINTS.paths - paths:  # a renamed field must not silently lose its special handling
        raise CRDGenerationError(f"no such fields in the spec: {sorted(SPEC_HINTS.paths - paths)}")
    spec["description"] = _field_description(TuningJob, "spec")
    settings = spec["properties"]["strategy"]["properties"]["settings"]
    settings["description"] = f"{settings['description']} {_settings_help()}"
    template = spec["properties"]["trialTemplate"]["properties"]
    template["spec"] = _job_spec_schema(template["spec"]["description"])
    return spec


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
            "spec": add_rules(_spec_schema()),
            "status": status_schema(),
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
            "description": "The best objective value so far (single objective).",
            "jsonPath": ".status.bestTrial.objective",
        },
        {
            "name": "Front",
            "type": "integer",
            "description": "Trials on the Pareto front (spec.objectives).",
            "jsonPath": ".status.paretoFrontSize",
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
